# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .build import build_pipeline, build_pipeline_for, build_video_pipeline
from .clip_transforms import (ClipCenterCrop, ClipFlip, ClipRandomResizedCrop,
                              ClipResize, PackVideoInputs)
from .loading import LoadImageFromFileCached
from .mmaction import (DecordDecode, DecordInit, FormatShape, PackActionInputs,
                       PyAVDecode, PyAVInit)
from .video import SampleFrames, VideoDecode, VideoInit
from .video_readers import VideoReader, VideoReadError

__all__ = [
    'ClipCenterCrop', 'ClipFlip', 'ClipRandomResizedCrop', 'ClipResize',
    'DecordDecode', 'DecordInit', 'FormatShape', 'LoadImageFromFileCached',
    'PackActionInputs', 'PackVideoInputs', 'PyAVDecode', 'PyAVInit',
    'SampleFrames', 'VideoDecode', 'VideoInit', 'VideoReadError',
    'VideoReader', 'build_pipeline', 'build_pipeline_for',
    'build_video_pipeline'
]
