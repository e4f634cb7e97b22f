# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Build pipelines: image pipelines from mmpretrain's registry, clip
pipelines from the plugin's video transforms (mmaction2's names included),
which refuse an image transform before any data is read."""
from typing import Callable, Sequence, Union

from mmengine.dataset import Compose
from mmpretrain.registry import TRANSFORMS

from ...registry import VIDEO_TRANSFORMS

# The packages whose transforms work on ``results['img']``: in a clip
# pipeline they would leave the frames untouched.
IMAGE_PACKAGES = ('mmpretrain.', 'mmcv.', 'mmengine.')

# What to write in a clip pipeline instead of an image transform.
CLIP_COUNTERPARTS = dict(
    LoadImageFromFile="VideoInit, SampleFrames and VideoDecode (mmaction2's "
    'DecordInit, SampleFrames, DecordDecode)',
    LoadImageFromFileCached='VideoInit(max_cache_mb=...), SampleFrames and '
    'VideoDecode',
    ResizeEdge="Resize(scale=(-1, S)) (the short edge to S, mmaction2's form)",
    RandomFlip="Flip(flip_ratio=...) (mmaction2's name) or ClipFlip",
    PackInputs="PackVideoInputs (or mmaction2's FormatShape('NCTHW') and "
    'PackActionInputs)',
    RandomCrop='RandomResizedCrop(area_range=...) or CenterCrop',
)


def build_pipeline(pipeline: Sequence[Union[dict, Callable]]) -> Compose:
    """Compose image transforms given as configs (built from mmpretrain's
    ``TRANSFORMS``, which includes this plugin's) or callables.

    Args:
        pipeline (Sequence[dict | Callable]): the transforms.

    Returns:
        Compose: the pipeline.
    """
    return Compose(
        [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline])


def _build_clip_transform(cfg: dict):
    """One transform of a clip pipeline (see :func:`build_video_pipeline`)."""
    name = cfg.get('type')
    if isinstance(name, str) and name in VIDEO_TRANSFORMS.module_dict:
        return VIDEO_TRANSFORMS.build(cfg)
    cls = TRANSFORMS.get(name) if isinstance(name, str) else name
    clip_names = ', '.join(sorted(VIDEO_TRANSFORMS.module_dict))
    if cls is None:
        raise KeyError(
            f'{name!r} is not a transform of a clip pipeline. Its transforms '
            f'are {clip_names} (mmaction2 1.x names included).')
    if cls.__module__.startswith(IMAGE_PACKAGES):
        instead = CLIP_COUNTERPARTS.get(
            getattr(cls, '__name__', name), f'one of {clip_names}')
        raise ValueError(
            f'{name!r} ({cls.__module__}) is an image transform: in a clip '
            'pipeline (VideoDataset) it would leave the frames untouched. '
            f'Use {instead}.')
    return TRANSFORMS.build(cfg)  # a transform of the user's own


def _check_views(transforms: list) -> None:
    """Refuse mmaction2's several clips per sample (views it averages)."""
    names = {type(t).__name__ for t in transforms}
    clips = [
        t.num_clips for t in transforms
        if type(t).__name__ == 'SampleFrames' and t.num_clips > 1
    ]
    if clips and 'FormatShape' in names:
        raise ValueError(
            f'SampleFrames(num_clips={clips[0]}) with FormatShape: mmaction2 '
            'averages several clips of a video as views, which the plugin '
            'does not (it would concatenate them along time). Use '
            'num_clips=1, or drop FormatShape and PackActionInputs for '
            'PackVideoInputs to concatenate them on purpose.')


def build_video_pipeline(pipeline: Sequence[Union[dict, Callable]]) -> Compose:
    """Compose a clip pipeline.

    Each config is built from ``VIDEO_TRANSFORMS`` (the plugin's clip
    transforms under their names and mmaction2's), else from mmpretrain's
    ``TRANSFORMS`` unless it is an mmpretrain / mmcv image transform, which
    is refused, naming the clip transform to use.

    Args:
        pipeline (Sequence[dict | Callable]): the transforms.

    Returns:
        Compose: the pipeline.
    """
    transforms = [
        _build_clip_transform(t) if isinstance(t, dict) else t
        for t in pipeline
    ]
    _check_views(transforms)
    return Compose(transforms)


def build_pipeline_for(dataset,
                       pipeline: Sequence[Union[dict, Callable]]) -> Compose:
    """Compose ``pipeline`` for ``dataset``'s samples: a clip pipeline for a
    dataset of videos (``clip_pipeline = True``, as
    :class:`~clusterfit_plugin.datasets.VideoDataset`), else an image one.

    Args:
        dataset: the dataset whose samples the pipeline reads.
        pipeline (Sequence[dict | Callable]): the transforms.

    Returns:
        Compose: the pipeline.
    """
    if getattr(dataset, 'clip_pipeline', False):
        return build_video_pipeline(pipeline)
    return build_pipeline(pipeline)
