from .clusterfit_dataset import ClusterFitDataset, load_label_file
from .samplers import ClusterBalancedSampler
from .transforms import *  # noqa: F401,F403
from .video_dataset import VideoDataset

__all__ = [
    'ClusterBalancedSampler', 'ClusterFitDataset', 'VideoDataset',
    'load_label_file'
]
