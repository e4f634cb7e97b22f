# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .video import VideoClsDataPreprocessor

__all__ = ['VideoClsDataPreprocessor']
