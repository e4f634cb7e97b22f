# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .backbones import VideoResNetBackbone
from .data_preprocessors import VideoClsDataPreprocessor
from .heads import ClusterFitHead
from .selfsup import RotNet

__all__ = [
    'ClusterFitHead', 'RotNet', 'VideoClsDataPreprocessor',
    'VideoResNetBackbone'
]
