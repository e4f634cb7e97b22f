from .clusterfit_dataset import ClusterFitDataset, load_label_file
from .samplers import ClusterBalancedSampler

__all__ = ['ClusterBalancedSampler', 'ClusterFitDataset', 'load_label_file']
