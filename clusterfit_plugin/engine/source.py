# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The source network: built from its config as the Runner builds it, its
weights loaded strictly (from mmpretrain, VISSL, torchvision or MoCo
checkpoints), frozen; a random init only when the config says so.
"""
import copy
import inspect
import logging
import os.path as osp
from typing import List, Union

import torch
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader

from ..fileio import load_torch, sha256_file, sha256_of
from ..models.builder import (build_model_from_cfg, load_config,
                              model_cfg_from_config, pretrained_inits,
                              strip_pretrained_init)
from ..models.checkpoint_formats import DESCRIPTIONS, to_mmpretrain
from .settings import SourceSettings

SourceLike = Union[dict, SourceSettings]


def parse_source(source: SourceLike) -> SourceSettings:
    """The source settings of a config dict, checked.

    Args:
        source (dict | SourceSettings): ``config`` or ``model``,
            ``checkpoint`` (required; None for a random init on purpose),
            ``checkpoint_format``, ``init``, ``stage``, ``init_seed``.

    Returns:
        SourceSettings: the settings.
    """
    return SourceSettings.parse(source)


def _unstripped_model_cfg(source: SourceSettings) -> dict:
    """The source's model config with its ``init_cfg`` entries kept."""
    if source.model is not None:
        return copy.deepcopy(source.model)
    cfg = load_config(source.config)
    return model_cfg_from_config(cfg, strip=False)


def check_source(source: SourceLike) -> SourceSettings:
    """Check what can be checked before any data is read.

    The checkpoint file must exist. A random source whose config
    initialises from a ``Pretrained`` checkpoint is refused unless
    ``init='random'`` says so: dropping that checkpoint silently would
    cluster a random network.

    Args:
        source (dict | SourceSettings): the source.

    Returns:
        SourceSettings: the parsed settings.
    """
    source = parse_source(source)
    if source.checkpoint is not None and not osp.isfile(source.checkpoint):
        raise FileNotFoundError(
            f'source checkpoint {source.checkpoint!r} does not exist. Give '
            "the path of the source network's .pth file "
            '(source.checkpoint=...).')
    inits = pretrained_inits(_unstripped_model_cfg(source))
    if inits and source.checkpoint is None and not source.random_on_purpose:
        where = source.config or 'source.model'
        raise ValueError(
            f'the source config {where!r} initialises from '
            f'{inits[0]!r} (init_cfg type=Pretrained), but source.checkpoint'
            f' is None, so that file would be dropped and the source '
            f"clustered as a random network. Give checkpoint='{inits[0]}' "
            "to cluster that network, or init='random' to cluster a random "
            'one on purpose.')
    return source


def load_source_config(source: SourceLike) -> dict:
    """The source model's config dict, as the Runner would build it.

    Args:
        source (dict | SourceSettings): the source.

    Returns:
        dict: the model config, with the config's top-level
        ``data_preprocessor`` merged in and no pretrained ``init_cfg``.
    """
    return strip_pretrained_init(_unstripped_model_cfg(parse_source(source)))


def is_masked_modelling(model: torch.nn.Module) -> bool:
    """Whether the backbone takes a ``mask`` (masked image modelling).

    mmpretrain's MAE, BEiT, CAE, MaskFeat, SimMIM, MixMIM, MFF and iTPN
    backbones run their plain (unmasked) forward when ``mask=None``.

    Args:
        model (nn.Module): a model with a ``backbone``.

    Returns:
        bool: True when ``backbone.forward`` has a ``mask`` argument.
    """
    return 'mask' in inspect.signature(model.backbone.forward).parameters


def stage_modules(model: torch.nn.Module, stage: str) -> List[str]:
    """Names of the sub-modules that compute features at ``stage``.

    Args:
        model (nn.Module): the source model.
        stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.

    Returns:
        list[str]: ``'backbone'`` and, as ``stage`` needs, ``'neck'`` and
        ``'head'``.
    """
    names = ['backbone']
    if stage != 'backbone' and is_masked_modelling(model):
        raise ValueError(
            f'source stage={stage!r}: {type(model).__name__} is a masked-image'
            '-modelling source, whose neck and head are its pre-training '
            "decoder and loss, not image features. Use stage='backbone' (run "
            'unmasked).')
    if stage in ('neck', 'pre_logits'):
        if getattr(model, 'neck', None) is not None:
            names.append('neck')
        elif stage == 'neck':
            raise ValueError(
                f"source stage='neck' but the source model "
                f"({type(model).__name__}) has no neck; use stage='backbone'.")
    if stage == 'pre_logits':
        if not hasattr(getattr(model, 'head', None), 'pre_logits'):
            raise ValueError(
                "source stage='pre_logits' needs a head with pre_logits(); "
                f'{type(model).__name__} has none. Use stage=\'backbone\' or '
                "'neck'.")
        names.append('head')
    return names


def load_source_weights(model: torch.nn.Module,
                        checkpoint: str,
                        stage: str,
                        checkpoint_format: str = 'auto') -> dict:
    """Load a checkpoint into the modules that ``stage`` uses, strictly.

    Every parameter and buffer of those modules must be in the checkpoint
    with the right shape: a source that is partly random is an error.
    VISSL, torchvision and MoCo checkpoints are read in mmpretrain's key
    names (:func:`~clusterfit_plugin.models.checkpoint_formats.to_mmpretrain`);
    the layout read is logged.

    Args:
        model (nn.Module): the source model.
        checkpoint (str): checkpoint file.
        stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.
        checkpoint_format (str): the file's layout, or ``'auto'``.

    Returns:
        dict: the layout read, and counts of loaded and ignored keys.
    """
    raw = load_torch(
        checkpoint, 'source checkpoint',
        lambda path: CheckpointLoader.load_checkpoint(path, 'cpu'))
    state, fmt = to_mmpretrain(raw, checkpoint_format,
                               f'source checkpoint {checkpoint!r}')
    if fmt != 'mmpretrain':
        print_log(
            f'source checkpoint {checkpoint!r}: read as {DESCRIPTIONS[fmt]} '
            f"layout (checkpoint_format='{fmt}'"
            f"{', detected' if checkpoint_format == 'auto' else ''}) and "
            "mapped to mmpretrain's ResNet key names.",
            logger='current')
    prefixes = tuple(f'{name}.' for name in stage_modules(model, stage))
    needed = {
        k: v
        for k, v in model.state_dict().items() if k.startswith(prefixes)
    }
    missing = sorted(k for k in needed if k not in state)
    wrong = sorted(k for k in needed
                   if k in state and state[k].shape != needed[k].shape)
    if missing or wrong:
        details = (f'{len(missing)} missing (e.g. {missing[:3]})'
                   if missing else '')
        if wrong:
            details += ('; ' if details else '') + (
                f'{len(wrong)} of another shape (e.g. {wrong[0]}: '
                f'{tuple(state[wrong[0]].shape)} in the file, '
                f'{tuple(needed[wrong[0]].shape)} in the model)')
        present = sorted({k.split('.')[0] for k in state})[:6]
        raise ValueError(
            f'source checkpoint {checkpoint!r}, read as {DESCRIPTIONS[fmt]} '
            f'layout, does not fit the source model {type(model).__name__} '
            f'at stage {stage!r}: {details}. Its keys start with {present}. '
            'Give the config the checkpoint was trained with, and for a '
            "checkpoint from elsewhere its checkpoint_format ('vissl', "
            "'torchvision', 'moco').")
    model.load_state_dict({k: state[k] for k in needed}, strict=False)
    return dict(
        checkpoint_format=fmt,
        loaded=len(needed),
        ignored=len(state) - len(needed))


def build_source_model(source: SourceLike) -> torch.nn.Module:
    """Build the frozen, eval-mode source network on the current device.

    Args:
        source (dict | SourceSettings): ``config`` or ``model``,
            ``checkpoint`` (None for a random init on purpose, seeded by
            ``init_seed``), ``checkpoint_format`` and ``stage``.

    Returns:
        nn.Module: the source model.
    """
    source = check_source(source)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(source.init_seed)
        model = build_model_from_cfg(load_source_config(source))
        if source.is_random and hasattr(model, 'init_weights'):
            model.init_weights()
    if source.is_random:
        stage_modules(model, source.stage)
        print_log(
            f'the source is a RANDOMLY INITIALISED {type(model).__name__} '
            f'(init_seed={source.init_seed}): no weights are loaded, as its '
            "settings ask (checkpoint=None / init='random').",
            logger='current',
            level=logging.WARNING)
    else:
        load_source_weights(model, source.checkpoint, source.stage,
                            source.checkpoint_format)
    model.to(get_device()).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def source_fingerprint(source: SourceLike) -> dict:
    """The fingerprint parts of the source: its weights, model and stage.

    Args:
        source (dict | SourceSettings): the source.

    Returns:
        dict: ``source_weights`` (the checkpoint's sha256, which also
        decides its layout, or the seed of a random init),
        ``source_model`` (hash of the built config) and ``stage``.
    """
    source = parse_source(source)
    weights = (f'random-init seed={source.init_seed}'
               if source.is_random else sha256_file(source.checkpoint))
    return dict(
        source_weights=weights,
        source_model=sha256_of(load_source_config(source)),
        stage=source.stage)
