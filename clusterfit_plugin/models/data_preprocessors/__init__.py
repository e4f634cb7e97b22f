# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .video import ActionDataPreprocessor, VideoClsDataPreprocessor

__all__ = ['ActionDataPreprocessor', 'VideoClsDataPreprocessor']
