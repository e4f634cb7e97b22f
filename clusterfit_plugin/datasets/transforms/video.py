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

mmaction2's argument names and forms are accepted where they have a
counterpart here: ``Flip``'s ``flip_ratio`` and ``direction``, ``Resize``'s
``scale`` forms (a factor, ``(w, -1)`` / ``(-1, h)`` short edge, ``(w, h)``
with ``keep_ratio``) and ``interpolation``, ``RandomResizedCrop``'s
``area_range`` and ``aspect_ratio_range``. Any other argument is refused
with the list of accepted ones.
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

from .video_readers import DecodedVideo, VideoReader


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


@TRANSFORMS.register_module()
class VideoInit(BaseTransform):
    """Open ``results['video_path']``; record its number of frames.

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
        path = results['video_path']
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


@TRANSFORMS.register_module()
class SampleFrames(BaseTransform):
    """Choose the frame indices of ``num_clips`` clips.

    A clip is ``clip_len`` frames ``frame_interval`` apart. In training each
    clip starts at a random offset; in test mode the clips start at evenly
    spaced offsets (one clip: the centre), so extraction is reproducible.

    Short videos (fewer frames than a clip spans) are looped: index ``i`` is
    read as ``i mod total_frames``. The rule is the same in both modes.

    Args:
        clip_len (int): frames per clip.
        frame_interval (int): step between sampled frames. Defaults to 1.
        num_clips (int): clips per video; they are concatenated along time.
            Defaults to 1.
        test_mode (bool): deterministic offsets. Defaults to False.
    """

    def __init__(self,
                 clip_len: int,
                 frame_interval: int = 1,
                 num_clips: int = 1,
                 test_mode: bool = False,
                 **kwargs):
        _reject_unknown(self, kwargs)
        if clip_len < 1 or frame_interval < 1 or num_clips < 1:
            raise ValueError('clip_len, frame_interval and num_clips must be '
                             f'>= 1, got {clip_len}, {frame_interval}, '
                             f'{num_clips}.')
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_clips = num_clips
        self.test_mode = test_mode

    def transform(self, results: dict) -> dict:
        total = int(results['total_frames'])
        span = (self.clip_len - 1) * self.frame_interval + 1
        room = max(total - span, 0)
        if self.test_mode:
            if self.num_clips == 1:
                starts = np.array([room // 2])
            else:
                starts = np.linspace(0, room, self.num_clips).round()
        else:
            starts = np.random.randint(0, room + 1, size=self.num_clips)
        offsets = np.arange(self.clip_len) * self.frame_interval
        inds = (starts.astype(np.int64)[:, None] + offsets[None]).ravel()
        results['frame_inds'] = inds % total
        results['clip_len'] = self.clip_len
        results['num_clips'] = self.num_clips
        return results


@TRANSFORMS.register_module()
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


INTERPOLATIONS = dict(
    nearest=cv2.INTER_NEAREST,
    bilinear=cv2.INTER_LINEAR,
    bicubic=cv2.INTER_CUBIC,
    area=cv2.INTER_AREA)


def _resize(imgs: np.ndarray,
            size_wh: Tuple[int, int],
            interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    if (imgs.shape[2], imgs.shape[1]) == tuple(size_wh):
        return imgs
    return np.stack([
        cv2.resize(f, tuple(size_wh), interpolation=interpolation)
        for f in imgs
    ])


@TRANSFORMS.register_module()
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
        interpolation (str): ``'nearest'``, ``'bilinear'``, ``'bicubic'``
            or ``'area'``. Defaults to ``'bilinear'``.
    """

    def __init__(self,
                 scale: Union[int, float, Tuple[int, int]],
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear',
                 **kwargs):
        _reject_unknown(self, kwargs)
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


@TRANSFORMS.register_module()
class ClipCenterCrop(BaseTransform):
    """Crop the centre ``crop_size`` of every frame.

    Args:
        crop_size (int | tuple): side, or ``(w, h)``.
    """

    def __init__(self, crop_size: Union[int, Tuple[int, int]], **kwargs):
        _reject_unknown(self, kwargs)
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


@TRANSFORMS.register_module()
class ClipRandomResizedCrop(BaseTransform):
    """Crop one random area and aspect ratio, the same for every frame of
    the clip, and resize it to ``size``.

    Args:
        size (int | tuple): output side, or ``(w, h)``.
        scale (tuple): range of the crop's area fraction. Defaults to
            (0.08, 1.0).
        ratio (tuple): range of the crop's aspect ratio. Defaults to
            (3/4, 4/3).
        area_range, aspect_ratio_range (tuple, optional): mmaction2's names
            of ``scale`` and ``ratio``.
    """

    def __init__(self,
                 size: Union[int, Tuple[int, int]],
                 scale: Tuple[float, float] = (0.08, 1.0),
                 ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                 area_range: Optional[Tuple[float, float]] = None,
                 aspect_ratio_range: Optional[Tuple[float, float]] = None,
                 **kwargs):
        _reject_unknown(self, kwargs)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
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
        results['imgs'] = _resize(imgs[:, top:top + ch, left:left + cw],
                                  self.size)
        results['img_shape'] = results['imgs'].shape[1:3]
        return results


@TRANSFORMS.register_module()
class ClipFlip(BaseTransform):
    """Flip every frame of a clip, with probability ``prob``.

    Args:
        prob (float): flip probability. Defaults to 0.5.
        direction (str): ``'horizontal'`` or ``'vertical'``. Defaults to
            ``'horizontal'``.
        flip_ratio (float, optional): mmaction2's name of ``prob``.
    """

    def __init__(self,
                 prob: float = 0.5,
                 direction: str = 'horizontal',
                 flip_ratio: Optional[float] = None,
                 **kwargs):
        _reject_unknown(self, kwargs)
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


@TRANSFORMS.register_module()
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
