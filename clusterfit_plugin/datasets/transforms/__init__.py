# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .build import build_pipeline
from .loading import LoadImageFromFileCached
from .video import (ClipCenterCrop, ClipFlip, ClipRandomResizedCrop,
                    ClipResize, PackVideoInputs, SampleFrames, VideoDecode,
                    VideoInit)
from .video_readers import VideoReader, VideoReadError

__all__ = [
    'ClipCenterCrop', 'ClipFlip', 'ClipRandomResizedCrop', 'ClipResize',
    'LoadImageFromFileCached', 'PackVideoInputs', 'SampleFrames',
    'VideoDecode', 'VideoInit', 'VideoReadError', 'VideoReader',
    'build_pipeline'
]
