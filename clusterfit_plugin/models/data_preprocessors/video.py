# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``VideoClsDataPreprocessor``: mmpretrain's video preprocessor, usable
inside ``ImageClassifier``; and mmaction2's ``ActionDataPreprocessor``
under its name, for configs written for mmaction2."""
from typing import Optional, Sequence

from mmpretrain.models.utils import VideoDataPreprocessor
from mmpretrain.registry import MODELS


@MODELS.register_module()
class VideoClsDataPreprocessor(VideoDataPreprocessor):
    """Stack ``C x T x H x W`` clips into ``N x C x T x H x W``, convert to
    float32 and normalise per channel (in float32, so mixed precision is
    safe).

    mmpretrain's ``VideoDataPreprocessor`` does the work; ``ImageClassifier``
    passes ``batch_augments`` to its preprocessor, which that class rejects,
    so this one takes it (batch augmentations for clips are not supported).

    Args:
        mean (Sequence[float], optional): per-channel mean (0-255 scale).
        std (Sequence[float], optional): per-channel std.
        to_rgb (bool): swap the channel order (the decoders give RGB).
            Defaults to False.
        format_shape (str): ``'NCTHW'``. Defaults to ``'NCTHW'``.
        batch_augments (dict, optional): must be None.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 to_rgb: bool = False,
                 format_shape: str = 'NCTHW',
                 batch_augments: Optional[dict] = None):
        if batch_augments:
            raise ValueError('VideoClsDataPreprocessor: batch augmentations '
                             f'({batch_augments}) are not supported for '
                             'clips; remove train_cfg.augments.')
        super().__init__(
            mean=mean, std=std, to_rgb=to_rgb, format_shape=format_shape)


@MODELS.register_module()
class ActionDataPreprocessor(VideoClsDataPreprocessor):
    """mmaction2 1.x's ``ActionDataPreprocessor`` for 3D clip models: a
    :class:`VideoClsDataPreprocessor`, with mmaction2's arguments.

    Args:
        mean (Sequence[float], optional): per-channel mean (0-255 scale).
        std (Sequence[float], optional): per-channel std.
        to_rgb (bool): swap the channel order. Defaults to False.
        to_float32 (bool): must be True (the clips become float32).
        format_shape (str): must be ``'NCTHW'`` (mmaction2's default
            ``'NCHW'`` is for 2D models, which the plugin has none of).
        blending (dict, optional): must be None (Mixup / CutMix of clips is
            not implemented).
        batch_augments (dict, optional): must be None (what
            ``ImageClassifier`` passes).
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 to_rgb: bool = False,
                 to_float32: bool = True,
                 format_shape: str = 'NCHW',
                 blending: Optional[dict] = None,
                 batch_augments: Optional[dict] = None):
        for name, value, want in (('to_float32', to_float32, True),
                                  ('format_shape', format_shape,
                                   'NCTHW'), ('blending', blending, None)):
            if value != want:
                raise ValueError(
                    f'ActionDataPreprocessor {name}={value!r} is not '
                    f'supported here (3D clip models, float32, no clip '
                    f'blending); set {name}={want!r}.')
        super().__init__(
            mean=mean,
            std=std,
            to_rgb=to_rgb,
            format_shape=format_shape,
            batch_augments=batch_augments)
