# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""ClusterFit (Yan et al., CVPR 2020) for the OpenMMLab stack.

Importing this package registers ``ClusterFitHook`` (HOOKS),
``ClusterFitDataset`` (DATASETS) and ``ClusterFitHead`` (MODELS) in
mmpretrain's registries, and allow-lists mmengine's checkpoint contents for
``torch.load(weights_only=True)`` where the installed torch needs it (see
:mod:`clusterfit_plugin.compat`).
"""
from .compat import allow_mmengine_checkpoints
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .version import __version__

allow_mmengine_checkpoints()

__all__ = ['__version__']
