# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The frozen source network and distributed feature extraction.

Each rank extracts the samples ``rank, rank + W, rank + 2W, ...`` (no
padding, no duplicates) and keeps their dataset indices, so results are
gathered by index, never by position.
"""
import copy
import inspect
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.device import get_device
from mmengine.runner import CheckpointLoader
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Dataset

from ..clustering import FeatureStore, check_finite
from ..datasets.sample_keys import sample_path
from ..datasets.transforms import build_pipeline
from ..fileio import sha256_file, sha256_of
from ..models.builder import (build_model_from_cfg, load_config,
                              model_cfg_from_config, strip_pretrained_init)
from ..utils.memory_format import to_channels_last

STAGES = ('backbone', 'neck', 'pre_logits')

DEFAULT_EXTRACT_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]


def check_source(source: dict) -> dict:
    """A source setting with its defaults, checked.

    Args:
        source (dict): ``config`` or ``model`` (exactly one), optional
            ``checkpoint`` (default None: random init), ``stage`` (default
            ``'backbone'``) and ``init_seed``.

    Returns:
        dict: the source with ``stage`` and ``checkpoint`` set.
    """
    source = dict(dict(stage='backbone', checkpoint=None), **source)
    if (source.get('config') is None) == (source.get('model') is None):
        raise ValueError("source needs exactly one of config='path/or/pkg::"
                         "config.py' or model=dict(type=...).")
    if source['stage'] not in STAGES:
        raise ValueError(f"source stage={source['stage']!r} is unknown; use "
                         f'one of {STAGES}.')
    return source


def check_checkpoint(source: dict) -> None:
    """Raise when the source's checkpoint file is named but missing.

    Args:
        source (dict): a checked source setting.
    """
    checkpoint = source['checkpoint']
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'source checkpoint {checkpoint!r} does not exist. Give the path '
            "of the source network's .pth file (source.checkpoint=...).")


def load_source_config(source: dict) -> dict:
    """The source model's config dict, as the Runner would build it.

    Args:
        source (dict): ``config=`` (a file or ``'pkg::path'``) or ``model=``
            (a model config dict).

    Returns:
        dict: the model config, with the config's top-level
        ``data_preprocessor`` merged in and no pretrained ``init_cfg``.
    """
    if source.get('model') is not None:
        return strip_pretrained_init(copy.deepcopy(dict(source['model'])))
    return model_cfg_from_config(load_config(source['config']))


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


def _stage_modules(model: torch.nn.Module, stage: str) -> List[str]:
    """Names of the sub-modules that compute features at ``stage``."""
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


def load_source_weights(model: torch.nn.Module, checkpoint: str,
                        stage: str) -> dict:
    """Load a checkpoint into the modules that ``stage`` uses, strictly.

    Every parameter and buffer of those modules must be in the checkpoint
    with the right shape: a source that is partly random is an error.

    Args:
        model (nn.Module): the source model.
        checkpoint (str): checkpoint file.
        stage (str): one of :data:`STAGES`.

    Returns:
        dict: counts of loaded and ignored checkpoint keys.
    """
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'source checkpoint {checkpoint!r} holds no state '
                         'dict.')
    state = {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state.items()
    }
    prefixes = tuple(f'{name}.' for name in _stage_modules(model, stage))
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
        raise ValueError(
            f'source checkpoint {checkpoint!r} does not fit the source model '
            f'{type(model).__name__} at stage {stage!r}: {details}. The '
            'checkpoint was probably trained with another architecture: give '
            'the config it was trained with.')
    model.load_state_dict({k: state[k] for k in needed}, strict=False)
    return dict(loaded=len(needed), ignored=len(state) - len(needed))


def build_source_model(source: dict) -> torch.nn.Module:
    """Build the frozen, eval-mode source network on the current device.

    Args:
        source (dict): ``config`` or ``model``, ``checkpoint`` (None for a
            randomly initialised source, seeded by ``init_seed``) and
            ``stage``.

    Returns:
        nn.Module: the source model.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(source.get('init_seed', 0))
        model = build_model_from_cfg(load_source_config(source))
        if source.get('checkpoint') is None and hasattr(model, 'init_weights'):
            model.init_weights()
    if source.get('checkpoint') is not None:
        load_source_weights(model, source['checkpoint'], source['stage'])
    else:
        _stage_modules(model, source['stage'])
    model.to(get_device()).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _pool(x) -> torch.Tensor:
    """Last output of a tuple, pooled to (N, C).

    (N, C, ...) maps (images, clips) are averaged over their spatial and
    temporal dims; (N, L, C) token sequences (vision transformers with
    ``out_type='raw'``) are averaged over their tokens.
    """
    if isinstance(x, (tuple, list)):
        x = x[-1]
    if not isinstance(x, torch.Tensor):
        return x
    if x.dim() == 3:
        return x.mean(1)
    return x.flatten(2).mean(2) if x.dim() > 3 else x


def forward_features(model: torch.nn.Module, inputs: torch.Tensor,
                     stage: str) -> torch.Tensor:
    """Features of ``inputs`` at ``stage``, pooled to (N, C).

    Works for mmpretrain classifiers and self-supervised algorithms (any
    model with ``backbone`` and optional ``neck`` / ``head``), image or video.
    (N, C, ...) maps are averaged over their spatial and temporal dims,
    (N, L, C) token sequences over their tokens. Masked-image-modelling
    backbones are run unmasked (``mask=None``); their neck (the
    pre-training decoder) is refused when the source is built.

    Args:
        model (nn.Module): the source.
        inputs (Tensor): preprocessed batch.
        stage (str): one of :data:`STAGES`.

    Returns:
        Tensor: (N, C) features.
    """
    if is_masked_modelling(model):
        x = model.backbone(inputs, mask=None)
    else:
        x = model.backbone(inputs)
    if stage in ('neck', 'pre_logits') and getattr(model, 'neck',
                                                   None) is not None:
        x = model.neck(x)
    if stage == 'pre_logits':
        x = model.head.pre_logits(x if isinstance(x, tuple) else (x, ))
    return _pool(x)


def check_features(feats, num_inputs: int, model: torch.nn.Module,
                   stage: str) -> None:
    """Refuse outputs that are not (N, D) floating-point features.

    Args:
        feats: what :func:`forward_features` returned for a batch.
        num_inputs (int): the batch size N.
        model (nn.Module): the source (named in the error).
        stage (str): the stage (named in the error).
    """
    where = f'{type(model).__name__} at stage {stage!r}'
    if not isinstance(feats, torch.Tensor):
        raise ValueError(
            f'{where} returned {type(feats).__name__}, not a feature tensor. '
            'Use a stage whose output is a tensor or a tuple of tensors.')
    if not feats.is_floating_point():
        raise ValueError(
            f'{where} returned {feats.dtype} values of shape '
            f'{tuple(feats.shape)}, not features (masked-image-modelling '
            'backbones return mask ids when masked). Use another stage or '
            'a backbone that outputs feature maps.')
    if feats.dim() != 2 or feats.shape[0] != num_inputs:
        raise ValueError(
            f'{where} gave shape {tuple(feats.shape)} after pooling for '
            f'{num_inputs} inputs; expected ({num_inputs}, D). Use a stage '
            'whose output is (N, C, ...) or (N, L, C).')


class ExtractionSet(Dataset):
    """Samples ``indices`` of a dataset through another pipeline.

    Args:
        dataset: an mmengine dataset (``get_data_info``).
        pipeline (list[dict]): the deterministic extraction pipeline.
        indices (np.ndarray): dataset indices to serve, in order.
    """

    def __init__(self, dataset, pipeline: List[dict], indices: np.ndarray):
        self.dataset = dataset
        self.pipeline = build_pipeline(pipeline)
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        idx = int(self.indices[i])
        info = self.dataset.get_data_info(idx)
        try:
            data = self.pipeline(info)
        except Exception as e:
            raise RuntimeError(
                f'could not load sample {idx} '
                f'({sample_path(info) or info}) with the extract pipeline: '
                f'{type(e).__name__}: {e}. Fix or remove this file from the '
                'annotation list; nothing was written.') from e
        if data is None:
            raise RuntimeError(
                f'the extract pipeline returned None for sample {idx} '
                f'({sample_path(info)}); remove transforms that drop samples '
                'from extract_pipeline.')
        return data


def extract_features(model: torch.nn.Module,
                     dataset,
                     pipeline: List[dict],
                     indices: np.ndarray,
                     stage: str,
                     store: Optional[FeatureStore] = None,
                     batch_size: int = 64,
                     num_workers: int = 2,
                     amp: bool = False,
                     channels_last: bool = False,
                     progress: bool = True) -> np.ndarray:
    """Features of ``dataset[indices]``, in the order of ``indices``.

    Args:
        model (nn.Module): the frozen source.
        dataset: an mmengine dataset.
        pipeline (list[dict]): the extraction pipeline.
        indices (np.ndarray): the dataset indices this rank extracts.
        stage (str): one of :data:`STAGES`.
        store (FeatureStore, optional): where features go; extraction
            resumes after its ``rows_done``. Defaults to a float32 store in
            memory.
        batch_size (int): images per batch. Defaults to 64.
        num_workers (int): DataLoader workers. Defaults to 2.
        amp (bool): autocast on CUDA. Defaults to False.
        channels_last (bool): channels-last memory format for 4-D inputs
            and the model's 4-D weights, on any device (faster with oneDNN
            on the CPU too). Defaults to False.
        progress (bool): show a progress bar. Defaults to True.

    Returns:
        np.ndarray: (len(indices), C) features (a memmap for a disk store).
    """
    if store is None:
        store = FeatureStore(len(indices))
    todo = indices[store.rows_done:]
    loader = DataLoader(
        ExtractionSet(dataset, pipeline, todo),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=default_collate,
        pin_memory=torch.cuda.is_available())
    on_cuda = get_device() == 'cuda'
    if channels_last:
        to_channels_last(model)
    bar = ProgressBar(len(todo)) if progress and len(todo) else None
    with torch.inference_mode(), torch.autocast(
            device_type='cuda', enabled=amp and on_cuda):
        for data in loader:
            data = model.data_preprocessor(data, False)
            inputs = data['inputs']
            if channels_last and inputs.dim() == 4:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            feats = forward_features(model, inputs, stage)
            check_features(feats, inputs.shape[0], model, stage)
            store.append(feats.float().cpu().numpy())
            if bar is not None:
                bar.update(feats.shape[0])
    if bar is not None:
        print(flush=True)
    features = store.finish()
    check_finite(features, indices, f'{type(model).__name__} ({stage})')
    return features


def source_summary(source: dict) -> dict:
    """What the manifest records of the source.

    Args:
        source (dict): the hook's source setting.

    Returns:
        dict: config / model type, checkpoint path and stage.
    """
    return dict(
        config=source.get('config'),
        model=None
        if source.get('model') is None else source['model'].get('type'),
        checkpoint=None if source.get('checkpoint') is None else osp.abspath(
            source['checkpoint']),
        stage=source['stage'])


def source_fingerprint(source: dict) -> dict:
    """The fingerprint parts of the source: its weights, model and stage.

    Args:
        source (dict): the hook's source setting.

    Returns:
        dict: ``source_weights`` (the checkpoint's sha256, or the seed of a
        random init), ``source_model`` (hash of the built config) and
        ``stage``.
    """
    checkpoint = source['checkpoint']
    weights = (
        sha256_file(checkpoint) if checkpoint is not None else
        f"random-init seed={source.get('init_seed', 0)}")
    return dict(
        source_weights=weights,
        source_model=sha256_of(load_source_config(source)),
        stage=source['stage'])
