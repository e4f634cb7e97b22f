from .backbones import VideoResNetBackbone
from .data_preprocessors import VideoClsDataPreprocessor
from .heads import ClusterFitHead

__all__ = ['ClusterFitHead', 'VideoClsDataPreprocessor', 'VideoResNetBackbone']
