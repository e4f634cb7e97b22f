# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Build pipelines from mmpretrain's registry (no default scope needed)."""
from typing import Callable, Sequence, Union

from mmengine.dataset import Compose
from mmpretrain.registry import TRANSFORMS


def build_pipeline(pipeline: Sequence[Union[dict, Callable]]) -> Compose:
    """Compose transforms given as configs (built from mmpretrain's
    ``TRANSFORMS``, which includes this plugin's) or callables.

    Args:
        pipeline (Sequence[dict | Callable]): the transforms.

    Returns:
        Compose: the pipeline.
    """
    return Compose(
        [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline])
