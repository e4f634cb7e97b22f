# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Clip-wise augmentation and packing: each transform draws its random
parameters once per clip and applies them to every frame alike; packing
gives ``C x T x H x W`` uint8 clips (see :mod:`.video` for the loading and
:mod:`.mmaction` for mmaction2's names)."""
import math
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.structures import DataSample

from .video import (refuse_unimplemented, register_clip_transform,
                    reject_unknown)

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
        reject_unknown(self, kwargs)
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
        reject_unknown(self, kwargs)
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
        reject_unknown(self, kwargs)
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
        reject_unknown(self, kwargs)
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
