# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Video loading: open, sample frames, decode; with the clip transforms
(:mod:`.clip_transforms`) they make a clip pipeline.

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
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

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


def reject_unknown(transform: BaseTransform, unknown: dict) -> None:
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
        reject_unknown(self, kwargs)
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
