# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Build a model from a config file the way mmengine's Runner does.

mmpretrain configs keep ``data_preprocessor`` at the top level and the
Runner merges it into ``model`` (``model.setdefault('data_preprocessor',
cfg.data_preprocessor)``) before it builds the model under the config's
``default_scope``. Anything that builds a model from a config outside the
Runner (the ClusterFit source, the frozen-feature evaluation) must do the
same, or a network trained on normalised pixels is fed raw ones.
"""
import copy
from typing import Union

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.hub import get_config
from mmengine.registry import MODELS, DefaultScope


def load_config(path: str) -> Config:
    """Parse a config file or an installed package config.

    Args:
        path (str): a file path, or ``'pkg::path'`` (e.g.
            ``'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'``).

    Returns:
        Config: the parsed config.
    """
    try:
        return get_config(path) if '::' in path else Config.fromfile(path)
    except (FileNotFoundError, OSError) as e:
        raise FileNotFoundError(
            f'config {path!r} does not exist ({e}). Give a config file path '
            "or an installed package config such as 'mmpretrain::mocov2/"
            "mocov2_resnet50_8xb32-coslr-200e_in1k.py'.") from e
    except (UnicodeDecodeError, SyntaxError) as e:
        raise ValueError(f'config {path!r} is not a Python config file '
                         f'({type(e).__name__}: {e}); give the .py config, '
                         'not a checkpoint or another binary file.') from e


def _to_dict(value):
    return value.to_dict() if isinstance(value, ConfigDict) else value


def _is_pretrained(init) -> bool:
    return isinstance(init, dict) and init.get('type') == 'Pretrained'


def pretrained_inits(cfg) -> list:
    """The checkpoints that ``Pretrained`` ``init_cfg`` entries name, at any
    depth.

    Args:
        cfg: a model config (dicts and lists).

    Returns:
        list[str]: the ``checkpoint`` of each, in config order.
    """
    found = []
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        for entry in init if isinstance(init, list) else [init]:
            if _is_pretrained(entry):
                found.append(entry.get('checkpoint'))
        for key, value in cfg.items():
            if key != 'init_cfg':
                found += pretrained_inits(value)
    elif isinstance(cfg, list):
        for value in cfg:
            found += pretrained_inits(value)
    return found


def strip_pretrained_init(cfg):
    """Drop every ``init_cfg`` of type ``'Pretrained'``, at any depth.

    Other initialisers (``Kaiming``, ``Constant``, ...) are kept, so a
    randomly initialised model is the one the Runner would initialise.

    Args:
        cfg: a model config (dicts and lists, changed in place).

    Returns:
        The same object.
    """
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if _is_pretrained(init):
            cfg.pop('init_cfg')
        elif isinstance(init, list):
            cfg['init_cfg'] = [i for i in init if not _is_pretrained(i)]
        for value in cfg.values():
            strip_pretrained_init(value)
    elif isinstance(cfg, list):
        for value in cfg:
            strip_pretrained_init(value)
    return cfg


def model_cfg_from_config(cfg: Union[Config, dict],
                          strip: bool = True) -> dict:
    """The model dict the Runner would build from ``cfg``.

    The top-level ``data_preprocessor`` is merged into ``model`` exactly as
    ``Runner.__init__`` does (the model's own entry wins), and pretrained
    ``init_cfg`` entries are dropped so that building never fetches weights.

    Args:
        cfg (Config | dict): a full config with a ``model`` entry.
        strip (bool): drop the ``Pretrained`` init entries. Defaults to
            True.

    Returns:
        dict: a plain, deep-copied model config.
    """
    if cfg.get('model') is None:
        raise ValueError(
            f'config {getattr(cfg, "filename", None)!r} has no `model` entry.')
    model = copy.deepcopy(_to_dict(cfg['model']))
    preprocessor = cfg.get('data_preprocessor')
    if preprocessor is not None:
        model.setdefault('data_preprocessor',
                         copy.deepcopy(_to_dict(preprocessor)))
    return strip_pretrained_init(model) if strip else model


def _per_channel(values, channels: int) -> np.ndarray:
    """Config mean / std values, one per channel (a scalar is broadcast)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 1:
        return np.full(channels, values[0])
    return values


def check_preprocessor(model: torch.nn.Module, model_cfg: dict) -> None:
    """Check that the built model normalises as its config says.

    Args:
        model (nn.Module): the built model.
        model_cfg (dict): the model config it was built from.
    """
    cfg = model_cfg.get('data_preprocessor') or {}
    built = getattr(model, 'data_preprocessor', None)
    for key in ('mean', 'std'):
        if cfg.get(key) is None:
            continue
        have = getattr(built, key, None)
        if not isinstance(have, torch.Tensor):
            raise ValueError(
                f'{type(model).__name__} was configured with data_preprocessor'
                f' {key}={cfg[key]} but its {type(built).__name__} has no '
                f'{key}: it would be fed unnormalised inputs. Use a data '
                'preprocessor that normalises (e.g. ClsDataPreprocessor).')
        have = have.detach().double().cpu().reshape(-1).numpy()
        want = _per_channel(cfg[key], have.size)
        if want.shape != have.shape or not np.allclose(have, want):
            raise ValueError(
                f'{type(model).__name__} was configured with data_preprocessor'
                f' {key}={list(want)} but normalises with {list(have)}.')


def build_model_from_cfg(model_cfg: dict) -> torch.nn.Module:
    """Build ``model_cfg`` in mmpretrain's scope and check its inputs.

    The Runner builds under the config's ``default_scope``, which is
    ``'mmpretrain'`` for mmpretrain's configs and this plugin's.

    Args:
        model_cfg (dict): a model config, e.g. from
            :func:`model_cfg_from_config`.

    Returns:
        nn.Module: the model (weights as initialised by its constructor).
    """
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(model_cfg))
    check_preprocessor(model, model_cfg)
    return model
