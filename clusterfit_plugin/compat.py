# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Compatibility with the pinned stack.

torch >= 2.6 loads checkpoints with ``weights_only=True``. mmengine 0.10.7
calls ``torch.load`` without the argument, so resuming its own checkpoints
fails on the objects its ``message_hub`` pickles (``HistoryBuffer``, numpy
scalars and arrays). :func:`allow_mmengine_checkpoints` allow-lists exactly
those globals and keeps ``weights_only=True``: no arbitrary pickle runs.

The one unusual entry is ``builtins.getattr``: ``HistoryBuffer`` pickles its
statistics methods as ``getattr(HistoryBuffer, 'mean')``. Allow-listing the
real ``getattr`` would let a checkpoint reach any attribute of any allowed
object, so a stand-in is registered under that name which resolves only
``HistoryBuffer``'s statistics methods and refuses everything else.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.utils import digit_version

_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name):
    """``getattr`` limited to ``HistoryBuffer``'s statistics methods.

    Args:
        obj: must be the ``HistoryBuffer`` class.
        name (str): a registered statistics method name.

    Returns:
        Callable: the method.
    """
    allowed = set(_STATISTICS) | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only '
        f'HistoryBuffer statistics methods {sorted(allowed)} are allowed '
        'with weights_only=True.')


def _numpy_globals() -> list:
    """The numpy globals of pickled scalars and arrays, under both names
    numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) write."""
    multiarray = np._core.multiarray if hasattr(
        np, '_core') else np.core.multiarray
    entries = [np.dtype, np.ndarray]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries.append((multiarray.scalar, f'{module}.scalar'))
        entries.append((multiarray._reconstruct, f'{module}._reconstruct'))
    entries += [
        getattr(np.dtypes, name) for name in dir(np.dtypes)
        if name.endswith('DType') and name != 'StringDType'
    ]
    return entries


def needs_allow_list() -> bool:
    """Whether ``torch.load`` defaults to ``weights_only=True`` (torch >=
    2.6), which mmengine's own checkpoints do not pass.

    Returns:
        bool: True on torch >= 2.6.
    """
    return digit_version(torch.__version__) >= digit_version('2.6.0')


def allow_mmengine_checkpoints() -> bool:
    """Allow-list what mmengine checkpoints hold, keeping weights_only=True,
    where the installed torch needs it. Safe to call more than once.

    Returns:
        bool: whether the allow-list was applied.
    """
    if not needs_allow_list():
        return False
    torch.serialization.add_safe_globals(
        [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')] +
        _numpy_globals())
    return True
