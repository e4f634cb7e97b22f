# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .video_resnet import VideoResNetBackbone

__all__ = ['VideoResNetBackbone']
