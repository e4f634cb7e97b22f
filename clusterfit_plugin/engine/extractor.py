# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Distributed feature extraction by sample index.

Each rank extracts the samples ``rank, rank + W, rank + 2W, ...`` (no
padding, no duplicates) and keeps their dataset indices, so results are
gathered by index, never by position.
"""
from typing import List, Optional

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.device import get_device
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Dataset

from ..clustering import FeatureStore, check_finite
from ..datasets.sample_keys import sample_path
from ..datasets.transforms import build_pipeline_for
from ..utils.memory_format import to_channels_last
from .source import is_masked_modelling

DEFAULT_EXTRACT_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]


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
        stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.

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
        self.pipeline = build_pipeline_for(dataset, pipeline)
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
        stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.
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
    start = store.rows_done
    todo = indices[start:]
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
            rows = feats.float().cpu().numpy()
            # Checked before the store takes them: a shard with a non-finite
            # row is never recorded as complete.
            done = store.rows_done - start
            check_finite(rows, todo[done:done + len(rows)],
                         f'{type(model).__name__} ({stage})')
            store.append(rows)
            if bar is not None:
                bar.update(feats.shape[0])
    if bar is not None:
        print(flush=True)
    return store.finish()
