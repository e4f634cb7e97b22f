# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""mmaction2 1.x's clip transforms, under their names, in a clip pipeline.

mmaction2 does not import from PyPI, and its names ``Resize``,
``CenterCrop``, ``RandomResizedCrop`` are mmpretrain's *image* transforms,
which leave a clip's frames untouched. In
:data:`~clusterfit_plugin.registry.VIDEO_TRANSFORMS` (where a
:class:`~clusterfit_plugin.datasets.VideoDataset` and the hook's extraction
of one look first) they are the plugin's clip transforms, with mmaction2's
arguments and semantics:

=====================  ====================================================
mmaction2              here
=====================  ====================================================
``DecordInit``         :class:`VideoInit` with ``backend='decord'``
``PyAVInit``           :class:`VideoInit` with ``backend='pyav'``
``DecordDecode``       :class:`VideoDecode` (``mode='accurate'``)
``PyAVDecode``         :class:`VideoDecode` (``mode='accurate'``)
``SampleFrames``       :class:`SampleFrames` (the same name)
``Resize``             :class:`ClipResize`
``CenterCrop``         :class:`ClipCenterCrop`
``RandomResizedCrop``  :class:`ClipRandomResizedCrop` without ``size``
``Flip``               :class:`ClipFlip`
``FormatShape``        ``input_format='NCTHW'``, one clip per sample
``PackActionInputs``   :class:`PackVideoInputs`
=====================  ====================================================

A setting whose behaviour is not implemented (``mode='efficient'``, another
``io_backend``, another ``input_format``) is refused by name.
"""
from typing import Optional, Sequence

from mmcv.transforms import BaseTransform

from ...registry import VIDEO_TRANSFORMS
from .clip_transforms import (ClipCenterCrop, ClipFlip, ClipRandomResizedCrop,
                              ClipResize, PackVideoInputs)
from .video import VideoDecode, VideoInit, refuse_unimplemented

for _name, _cls in (('Resize', ClipResize), ('CenterCrop', ClipCenterCrop),
                    ('RandomResizedCrop', ClipRandomResizedCrop), ('Flip',
                                                                   ClipFlip)):
    VIDEO_TRANSFORMS.register_module(name=_name, module=_cls)

DISK = 'reading through mmengine file clients'


@VIDEO_TRANSFORMS.register_module()
class DecordInit(VideoInit):
    """mmaction2's ``DecordInit``: open the video with decord.

    Args:
        io_backend (str): must be ``'disk'``.
        num_threads (int): must be 1 (the readers decode on one thread).
        max_cache_mb (float): see :class:`VideoInit`. Defaults to 0.
    """

    backend_name = 'decord'

    def __init__(self,
                 io_backend: str = 'disk',
                 num_threads: int = 1,
                 max_cache_mb: float = 0):
        refuse_unimplemented(
            self,
            io_backend=(io_backend, 'disk', DISK),
            num_threads=(num_threads, 1, 'multi-threaded decoding'))
        super().__init__(backend=self.backend_name, max_cache_mb=max_cache_mb)


@VIDEO_TRANSFORMS.register_module()
class PyAVInit(DecordInit):
    """mmaction2's ``PyAVInit``: open the video with PyAV.

    Args:
        io_backend (str): must be ``'disk'``.
        max_cache_mb (float): see :class:`VideoInit`. Defaults to 0.
    """

    backend_name = 'pyav'

    def __init__(self, io_backend: str = 'disk', max_cache_mb: float = 0):
        super().__init__(io_backend=io_backend, max_cache_mb=max_cache_mb)


@VIDEO_TRANSFORMS.register_module()
class DecordDecode(VideoDecode):
    """mmaction2's ``DecordDecode``: decode ``frame_inds`` exactly.

    Args:
        mode (str): must be ``'accurate'`` (``'efficient'`` returns the
            nearest key frames instead).
    """

    def __init__(self, mode: str = 'accurate'):
        refuse_unimplemented(
            self, mode=(mode, 'accurate', 'nearest key frames only'))


@VIDEO_TRANSFORMS.register_module()
class PyAVDecode(DecordDecode):
    """mmaction2's ``PyAVDecode``: decode ``frame_inds`` exactly.

    Args:
        multi_thread (bool): must be False.
        mode (str): must be ``'accurate'``.
    """

    def __init__(self, multi_thread: bool = False, mode: str = 'accurate'):
        refuse_unimplemented(
            self,
            multi_thread=(multi_thread, False, 'multi-threaded decoding'))
        super().__init__(mode=mode)


@VIDEO_TRANSFORMS.register_module()
class FormatShape(BaseTransform):
    """mmaction2's ``FormatShape`` for 3D models: the frames of one clip
    become ``C x T x H x W`` when :class:`PackActionInputs` packs them.

    mmaction2 stacks several clips (``num_clips``) or crops as separate
    views that its recogniser averages; the plugin has no views, so a
    sample with more than one clip is refused here.

    Args:
        input_format (str): must be ``'NCTHW'``.
        collapse (bool): must be False.
    """

    def __init__(self, input_format: str = 'NCTHW', collapse: bool = False):
        refuse_unimplemented(
            self,
            input_format=(input_format, 'NCTHW',
                          'only 3D clip models are supported'),
            collapse=(collapse, False, 'collapsing the view axis'))
        self.input_format = input_format

    def transform(self, results: dict) -> dict:
        clips = int(results.get('num_clips', 1))
        if clips != 1:
            raise ValueError(
                f'FormatShape got {clips} clips of one video: mmaction2 '
                'averages them as views, which the plugin does not. Use '
                'SampleFrames(num_clips=1) (one clip per sample).')
        results['input_shape'] = tuple(results['imgs'].shape)
        return results


@VIDEO_TRANSFORMS.register_module()
class PackActionInputs(PackVideoInputs):
    """mmaction2's ``PackActionInputs``: :class:`PackVideoInputs`.

    Args:
        collect_keys (tuple, optional): must be None.
        meta_keys (Sequence[str]): results copied into the data sample's
            metainfo when present.
        algorithm_keys (Sequence[str]): must be empty.
    """

    def __init__(self,
                 collect_keys: Optional[tuple] = None,
                 meta_keys: Sequence[str] = ('video_path', 'filename',
                                             'total_frames', 'frame_inds',
                                             'img_shape', 'video_backend',
                                             'sample_idx'),
                 algorithm_keys: Sequence[str] = ()):
        refuse_unimplemented(
            self,
            collect_keys=(collect_keys, None, 'other inputs than the clip'),
            algorithm_keys=(tuple(algorithm_keys), (), 'algorithm keys'))
        super().__init__(meta_keys=meta_keys)
