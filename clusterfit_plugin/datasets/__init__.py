# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .benchmark_datasets import HMDB51, UCF101, INaturalist
from .clusterfit_dataset import ClusterFitDataset, load_label_file
from .sample_keys import sample_path, scan_samples
from .samplers import ClusterBalancedSampler
from .transforms import *  # noqa: F401,F403
from .video_dataset import VideoDataset
from .vissl_labels import export_vissl_labels, import_vissl_labels

__all__ = [
    'ClusterBalancedSampler', 'ClusterFitDataset', 'HMDB51', 'INaturalist',
    'UCF101', 'VideoDataset', 'export_vissl_labels', 'import_vissl_labels',
    'load_label_file', 'sample_path', 'scan_samples'
]
