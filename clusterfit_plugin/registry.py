# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The plugin's own registry; everything else registers in mmpretrain's.

``VIDEO_TRANSFORMS`` holds the transforms of a clip pipeline (the one of a
:class:`~clusterfit_plugin.datasets.VideoDataset`, and the hook's extraction
pipeline for it) under their own names and under mmaction2's (``Resize``,
``CenterCrop``, ``RandomResizedCrop``, ``Flip``, ``DecordInit``, ...), which
mmpretrain's ``TRANSFORMS`` uses for image transforms that would leave a
clip untouched.
"""
from mmengine.registry import Registry

VIDEO_TRANSFORMS = Registry(
    'video transform', locations=['clusterfit_plugin.datasets.transforms'])
