# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Video transforms: open, sample frames, decode, clip-wise augmentation,
packing to ``C x T x H x W``.

A clip-wise transform draws its random parameters once per clip and applies
them identically to every frame. A typical pipeline::

    [dict(type='VideoInit', backend='auto'),
     dict(type='SampleFrames', clip_len=8, frame_interval=2),
     dict(type='VideoDecode'),
     dict(type='ClipRandomResizedCrop', size=112),
     dict(type='ClipFlip', prob=0.5),
     dict(type='PackVideoInputs')]

Each is registered in mmpretrain's ``TRANSFORMS`` and in
:data:`~clusterfit_plugin.registry.VIDEO_TRANSFORMS`, where mmaction2's names
map to them (:mod:`.mmaction`): a clip pipeline written for mmaction2 1.x
runs as written. mmaction2's arguments and forms are accepted where they
have a counterpart here, with mmaction2's semantics (``SampleFrames``'s
offsets, ``Flip``'s ``flip_ratio``, ``Resize``'s ``scale`` forms,
``RandomResizedCrop``'s crop without resizing); any other argument, or a
value whose behaviour is not implemented (``lazy=True``, keypoint flips),
is refused by name.
"""
import inspect
import math
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from mmpretrain.structures import DataSample

from ...registry import VIDEO_TRANSFORMS
from .video_readers import DecodedVideo, VideoReader


def register_clip_transform(cls):
    """Register a clip transform in mmpretrain's ``TRANSFORMS`` and in
    ``VIDEO_TRANSFORMS`` under its own name."""
    TRANSFORMS.register_module(module=cls)
    VIDEO_TRANSFORMS.register_module(module=cls)
    return cls


def refuse_unimplemented(transform: BaseTransform, **settings) -> None:
    """Refuse mmaction2 settings whose behaviour is not implemented here.

    Args:
        transform (BaseTransform): the transform (named in the message).
        **settings: name -> ``(value, default, what it would do)``; any
            value other than its default is an error.
    """
    for name, (value, default, why) in settings.items():
        if value != default:
            raise ValueError(
                f'{type(transform).__name__} {name}={value!r} is not '
                f'implemented here ({why}); drop it or set {name}='
                f'{default!r}.')


def _reject_unknown(transform: BaseTransform, unknown: dict) -> None:
    """Raise a TypeError naming the arguments a transform accepts (an
    mmaction2 argument this plugin does not implement, say)."""
    if unknown:
        accepted = [
            name
            for name in inspect.signature(type(transform).__init__).parameters
            if name not in ('self', 'kwargs')
        ]
        raise TypeError(f'{type(transform).__name__} does not take '
                        f'{sorted(unknown)}; it accepts {accepted}.')


@register_clip_transform
class VideoInit(BaseTransform):
    """Open ``results['video_path']`` (or mmaction2's ``filename``); record
    its number of frames.

    With ``max_cache_mb``, each process (the main one, or each DataLoader
    worker; persistent workers keep theirs across epochs) decodes a video
    whole the first time it is asked for and serves its frames from memory
    afterwards, so later epochs decode nothing: meant for small datasets of
    short clips read for many epochs (the 2,000 moving-digit clips take 98
    MB). Once the budget is reached, further videos are read as without it.

    Args:
        backend (str): ``'decord'``, ``'pyav'`` or ``'auto'`` (decord when
            installed, else PyAV). Defaults to ``'auto'``.
        max_cache_mb (float): memory the decoded videos may take, per
            process; 0 keeps none. Defaults to 0.
    """

    def __init__(self, backend: str = 'auto', max_cache_mb: float = 0):
        self.backend = backend
        self.max_cache_bytes = int(max_cache_mb * 2**20)
        self._cache = {}
        self._cached_bytes = 0
        self._cache_full = self.max_cache_bytes <= 0

    def transform(self, results: dict) -> dict:
        path = results.get('video_path', results.get('filename'))
        if path is None:
            raise KeyError(
                f'{type(self).__name__} needs the video file as '
                "results['video_path'] (VideoDataset) or results['filename'] "
                f'(mmaction2); got the keys {sorted(results)}.')
        reader = self._cache.get(path)
        if reader is None:
            reader = VideoReader(path, self.backend)
            if not self._cache_full:
                reader = DecodedVideo.decode(reader)
                size = reader.frames.nbytes
                if self._cached_bytes + size <= self.max_cache_bytes:
                    self._cache[path] = reader
                    self._cached_bytes += size
                else:  # from now on decode only what is asked for
                    self._cache_full = True
        results['video_reader'] = reader
        results['total_frames'] = reader.num_frames
        results['video_backend'] = reader.backend
        return results


@register_clip_transform
class SampleFrames(BaseTransform):
    """Choose the frame indices of ``num_clips`` clips, as mmaction2's
    ``SampleFrames`` does.

    A clip is ``clip_len`` frames ``frame_interval`` apart. In training the
    video is cut into ``num_clips`` equal segments and each clip starts at a
    random offset within its segment; in test mode the clips start at evenly
    spaced offsets (one clip: the centre), so extraction is reproducible.
    Indices past the end are wrapped (``'loop'``) or replaced by the clip's
    last valid one (``'repeat_last'``). Several clips are concatenated along
    time.

    Args:
        clip_len (int): frames per clip.
        frame_interval (int): step between sampled frames. Defaults to 1.
        num_clips (int): clips per video. Defaults to 1.
        temporal_jitter (bool): add a random offset below
            ``frame_interval`` to each index. Defaults to False.
        twice_sample (bool): refused (TSM's test-time doubling).
        out_of_bound_opt (str): ``'loop'`` (default) or ``'repeat_last'``.
        test_mode (bool): deterministic offsets. Defaults to False.
        keep_tail_frames (bool): mmaction2's alternative training offsets
            that can reach the last frames. Defaults to False.
        target_fps (int, optional): refused (needs the frame rate).
    """

    def __init__(self,
                 clip_len: int,
                 frame_interval: int = 1,
                 num_clips: int = 1,
                 temporal_jitter: bool = False,
                 twice_sample: bool = False,
                 out_of_bound_opt: str = 'loop',
                 test_mode: bool = False,
                 keep_tail_frames: bool = False,
                 target_fps: Optional[int] = None,
                 **kwargs):
        _reject_unknown(self, kwargs)
        if min(clip_len, frame_interval, num_clips) < 1:
            raise ValueError('clip_len, frame_interval and num_clips must be '
                             f'>= 1, got {clip_len}, {frame_interval}, '
                             f'{num_clips}.')
        if out_of_bound_opt not in ('loop', 'repeat_last'):
            raise ValueError(f'SampleFrames out_of_bound_opt='
                             f"{out_of_bound_opt!r} is unknown; use 'loop' "
                             "or 'repeat_last'.")
        refuse_unimplemented(
            self,
            twice_sample=(twice_sample, False, "TSM's doubled test clips"),
            target_fps=(target_fps, None, 'resampling to a frame rate; the '
                        "plugin's readers give no frame rate"))
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_clips = num_clips
        self.temporal_jitter = temporal_jitter
        self.out_of_bound_opt = out_of_bound_opt
        self.test_mode = test_mode
        self.keep_tail_frames = keep_tail_frames

    def _train_offsets(self, total: int, span: int) -> np.ndarray:
        """mmaction2's ``_get_train_clips``."""
        n = self.num_clips
        if self.keep_tail_frames:
            interval = (total - span + 1) / float(n)
            if total > span - 1:
                return (np.arange(n) * interval +
                        np.random.uniform(0, interval, n)).astype(np.int32)
            return np.zeros(n, dtype=np.int32)
        interval = (total - span + 1) // n
        if interval > 0:
            return np.arange(n) * interval + np.random.randint(
                interval, size=n)
        if total > max(n, span):
            return np.sort(np.random.randint(total - span + 1, size=n))
        if interval == 0:
            return np.around(np.arange(n) * (total - span + 1.0) / n)
        return np.zeros(n, dtype=np.int32)

    def _test_offsets(self, total: int, span: int) -> np.ndarray:
        """mmaction2's ``_get_test_clips`` (without ``twice_sample``)."""
        n = self.num_clips
        if self.clip_len == 1:  # mmaction2's 2D-recognizer rule
            interval = total / float(n)
            return np.arange(n) * interval + interval / 2.0
        room = max(total - span, 0)
        if n > 1:
            return np.round(np.arange(n) * (room / float(n - 1)))
        return np.array([room // 2])

    def transform(self, results: dict) -> dict:
        total = int(results['total_frames'])
        if self.test_mode:
            span = (self.clip_len - 1) * self.frame_interval + 1
            offsets = self._test_offsets(total, span)
        else:
            span = self.clip_len * self.frame_interval
            offsets = self._train_offsets(total, span)
        inds = (
            offsets[:, None] +
            np.arange(self.clip_len)[None, :] * self.frame_interval)
        if self.temporal_jitter:
            inds = inds + np.random.randint(
                self.frame_interval, size=inds.shape)
        if self.out_of_bound_opt == 'loop':
            inds = np.mod(inds, total)
        else:  # the clip's last valid index for those past the end
            safe = inds < total
            last = np.max(safe * inds, axis=1)
            inds = safe * inds + (1 - safe) * last[:, None]
        inds = inds.reshape(-1) + int(results.get('start_index', 0))
        results['frame_inds'] = inds.astype(np.int64)
        results['clip_len'] = self.clip_len
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = self.num_clips
        return results


@register_clip_transform
class VideoDecode(BaseTransform):
    """Decode the frames in ``results['frame_inds']`` into ``imgs``
    (T, H, W, 3) uint8 RGB, and close the video."""

    def transform(self, results: dict) -> dict:
        reader = results.pop('video_reader')
        try:
            imgs = reader.read(results['frame_inds'])
        finally:
            reader.close()
        results['imgs'] = imgs
        results['img_shape'] = imgs.shape[1:3]
        results['ori_shape'] = imgs.shape[1:3]
        results['video_backend'] = reader.backend  # after any fallback
        return results


# mmcv.imresize's interpolations (what mmaction2's Resize calls).
INTERPOLATIONS = dict(
    nearest=cv2.INTER_NEAREST,
    bilinear=cv2.INTER_LINEAR,
    bicubic=cv2.INTER_CUBIC,
    area=cv2.INTER_AREA,
    lanczos=cv2.INTER_LANCZOS4)

LAZY = "mmaction2's lazy mode with Fuse"


def _resize(imgs: np.ndarray,
            size_wh: Tuple[int, int],
            interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    if (imgs.shape[2], imgs.shape[1]) == tuple(size_wh):
        return imgs
    return np.stack([
        cv2.resize(f, tuple(size_wh), interpolation=interpolation)
        for f in imgs
    ])


@register_clip_transform
class ClipResize(BaseTransform):
    """Resize every frame of a clip the same way (mmaction2's ``Resize``
    arguments and forms).

    Args:
        scale (int | float | tuple): an int resizes the short edge to it; a
            float rescales by that factor; a tuple with a -1, ``(256, -1)``
            or ``(-1, 256)``, resizes the short edge to the other number (as
            mmaction2); any other ``(w, h)`` is the largest size within it
            with ``keep_ratio``, else exactly that size.
        keep_ratio (bool): keep the aspect ratio for a ``(w, h)`` scale.
            Defaults to True, as mmaction2.
        interpolation (str): ``'nearest'``, ``'bilinear'``, ``'bicubic'``,
            ``'area'`` or ``'lanczos'``. Defaults to ``'bilinear'``.
        lazy (bool): must be False.
    """

    def __init__(self,
                 scale: Union[int, float, Tuple[int, int]],
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear',
                 lazy: bool = False,
                 **kwargs):
        _reject_unknown(self, kwargs)
        refuse_unimplemented(self, lazy=(lazy, False, LAZY))
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'ClipResize interpolation={interpolation!r} is '
                             f'unknown; use one of {sorted(INTERPOLATIONS)}.')
        if isinstance(scale, (list, tuple)):
            scale = tuple(int(v) for v in scale)
            if len(scale) != 2 or min(scale) == 0 or min(scale) < -1 or (
                    min(scale) == -1 and max(scale) < 1):
                raise ValueError(
                    f'ClipResize scale={scale}: give (w, h) with w, h >= 1, '
                    'or (short_edge, -1) / (-1, short_edge).')
            if min(scale) == -1:
                scale = max(scale)
        elif isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise TypeError(
                f'ClipResize scale={scale!r}: give an int (short edge), a '
                'float (factor) or a tuple (w, h) / (short_edge, -1).')
        if not isinstance(scale, tuple) and scale <= 0:
            raise ValueError(f'ClipResize scale={scale} must be positive.')
        self.scale = scale
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def _size(self, h: int, w: int) -> Tuple[int, int]:
        """The output ``(w, h)`` of an ``h x w`` frame."""
        if isinstance(self.scale, int):
            factor = self.scale / min(h, w)
        elif isinstance(self.scale, float):
            factor = self.scale
        elif not self.keep_ratio:
            return self.scale
        else:  # the largest size within (w, h), as mmcv.rescale_size
            factor = min(
                max(self.scale) / max(h, w),
                min(self.scale) / min(h, w))
        return max(1, int(w * factor + 0.5)), max(1, int(h * factor + 0.5))

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        results['imgs'] = _resize(imgs, self._size(*imgs.shape[1:3]),
                                  INTERPOLATIONS[self.interpolation])
        results['img_shape'] = results['imgs'].shape[1:3]
        return results


@register_clip_transform
class ClipCenterCrop(BaseTransform):
    """Crop the centre ``crop_size`` of every frame.

    Args:
        crop_size (int | tuple): side, or ``(w, h)``.
        lazy (bool): must be False.
    """

    def __init__(self,
                 crop_size: Union[int, Tuple[int, int]],
                 lazy: bool = False,
                 **kwargs):
        _reject_unknown(self, kwargs)
        refuse_unimplemented(self, lazy=(lazy, False, LAZY))
        self.crop_size = ((crop_size, crop_size)
                          if isinstance(crop_size, int) else tuple(crop_size))

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        h, w = imgs.shape[1:3]
        cw, ch = min(self.crop_size[0], w), min(self.crop_size[1], h)
        top, left = (h - ch) // 2, (w - cw) // 2
        results['imgs'] = imgs[:, top:top + ch, left:left + cw]
        results['img_shape'] = (ch, cw)
        return results


@register_clip_transform
class ClipRandomResizedCrop(BaseTransform):
    """Crop one random area and aspect ratio, the same for every frame of
    the clip, and resize it to ``size``.

    Args:
        size (int | tuple, optional): output side, or ``(w, h)``; None
            crops without resizing (mmaction2's ``RandomResizedCrop``, which
            a ``Resize`` follows).
        scale (tuple): range of the crop's area fraction. Defaults to
            (0.08, 1.0).
        ratio (tuple): range of the crop's aspect ratio. Defaults to
            (3/4, 4/3).
        area_range, aspect_ratio_range (tuple, optional): mmaction2's names
            of ``scale`` and ``ratio``.
        lazy (bool): must be False.
    """

    def __init__(self,
                 size: Optional[Union[int, Tuple[int, int]]] = None,
                 scale: Tuple[float, float] = (0.08, 1.0),
                 ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                 area_range: Optional[Tuple[float, float]] = None,
                 aspect_ratio_range: Optional[Tuple[float, float]] = None,
                 lazy: bool = False,
                 **kwargs):
        _reject_unknown(self, kwargs)
        refuse_unimplemented(self, lazy=(lazy, False, LAZY))
        self.size = ((size, size) if isinstance(size, int) else
                     None if size is None else tuple(size))
        self.scale = scale if area_range is None else area_range
        self.ratio = (
            ratio if aspect_ratio_range is None else aspect_ratio_range)

    def _box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return (np.random.randint(0, h - ch + 1),
                        np.random.randint(0, w - cw + 1), ch, cw)
        side = min(h, w)  # fall back to a centre square
        return (h - side) // 2, (w - side) // 2, side, side

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        top, left, ch, cw = self._box(*imgs.shape[1:3])
        crop = imgs[:, top:top + ch, left:left + cw]
        results['imgs'] = crop if self.size is None else _resize(
            crop, self.size)
        results['img_shape'] = results['imgs'].shape[1:3]
        return results


@register_clip_transform
class ClipFlip(BaseTransform):
    """Flip every frame of a clip, with probability ``prob``.

    Args:
        prob (float): flip probability. Defaults to 0.5.
        direction (str): ``'horizontal'`` or ``'vertical'``. Defaults to
            ``'horizontal'``.
        flip_ratio (float, optional): mmaction2's name of ``prob``.
        flip_label_map, left_kp, right_kp (optional): mmaction2's label and
            keypoint flips: must be None.
        lazy (bool): must be False.
    """

    def __init__(self,
                 prob: float = 0.5,
                 direction: str = 'horizontal',
                 flip_ratio: Optional[float] = None,
                 flip_label_map: Optional[dict] = None,
                 left_kp: Optional[Sequence[int]] = None,
                 right_kp: Optional[Sequence[int]] = None,
                 lazy: bool = False,
                 **kwargs):
        _reject_unknown(self, kwargs)
        refuse_unimplemented(
            self,
            flip_label_map=(flip_label_map, None, 'relabelling flipped clips'),
            left_kp=(left_kp, None, 'keypoints'),
            right_kp=(right_kp, None, 'keypoints'),
            lazy=(lazy, False, LAZY))
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f'ClipFlip direction={direction!r} is unknown; '
                             "use 'horizontal' or 'vertical'.")
        self.prob = prob if flip_ratio is None else flip_ratio
        if not 0 <= self.prob <= 1:
            raise ValueError(f'ClipFlip prob={self.prob} must lie in [0, 1].')
        self.direction = direction

    def transform(self, results: dict) -> dict:
        flip = np.random.rand() < self.prob
        if flip:
            axis = 2 if self.direction == 'horizontal' else 1
            results['imgs'] = np.ascontiguousarray(
                np.flip(results['imgs'], axis=axis))
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results


@register_clip_transform
class PackVideoInputs(BaseTransform):
    """Pack ``imgs`` (T, H, W, C) into a ``C x T x H x W`` uint8 tensor and a
    ``DataSample`` with ``gt_label`` (when present) and meta information.

    Args:
        meta_keys (Sequence[str]): results copied into the data sample's
            metainfo when present.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('video_path', 'total_frames',
                                             'frame_inds', 'img_shape',
                                             'video_backend', 'sample_idx')):
        self.meta_keys = meta_keys

    def transform(self, results: dict) -> dict:
        imgs = np.ascontiguousarray(results['imgs'].transpose(3, 0, 1, 2))
        sample = DataSample()
        if results.get('gt_label') is not None and results['gt_label'] >= 0:
            sample.set_gt_label(int(results['gt_label']))
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=torch.from_numpy(imgs), data_samples=sample)
