# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .backbones import VideoResNetBackbone
from .data_preprocessors import (ActionDataPreprocessor,
                                 VideoClsDataPreprocessor)
from .heads import ClusterFitHead
from .selfsup import RotNet

__all__ = [
    'ActionDataPreprocessor', 'ClusterFitHead', 'RotNet',
    'VideoClsDataPreprocessor', 'VideoResNetBackbone'
]
