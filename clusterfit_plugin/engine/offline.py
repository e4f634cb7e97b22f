# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The hook's steps one at a time, without a Runner: extract the source's
features into the hook's disk store, then cluster them into the hook's
cache, so that a later training run with the same config finds the labels
(a cache hit).

Used by ``tools/extract_features.py`` and ``tools/cluster_features.py``;
the steps are the hook's own (:class:`ClusteringRound`, the same
fingerprint, store and manifest), so the labels are the ones the hook would
make.
"""
import os
import os.path as osp
import re
from typing import List, Tuple

import numpy as np
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS, HOOKS

from ..clustering import FeatureStore
from ..datasets import ClusterFitDataset
from .cache import ClusterCache
from .clustering_round import FeatureShard
from .hooks import ClusterFitHook


def hook_and_dataset(cfg: Config) -> Tuple[ClusterFitHook, object]:
    """The config's ClusterFitHook and the dataset it clusters.

    Args:
        cfg (Config): a training config with a ``ClusterFitHook`` in
            ``custom_hooks`` and a ``ClusterFitDataset`` as
            ``train_dataloader.dataset``.

    Returns:
        tuple: the built hook, and the dataset the ClusterFitDataset wraps.
    """
    hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h.get('type') in ('ClusterFitHook', ClusterFitHook)
    ]
    if len(hooks) != 1:
        raise ValueError(
            f'{cfg.filename}: expected one ClusterFitHook in custom_hooks, '
            f'found {len(hooks)}.')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        hook = HOOKS.build(hooks[0])
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    if not isinstance(dataset, ClusterFitDataset):
        raise TypeError(f'{cfg.filename}: train_dataloader.dataset is '
                        f'{type(dataset).__name__}, not a ClusterFitDataset.')
    return hook, dataset.dataset


class ShardedFeatures:
    """Read access to several stores' features as one (n, D) array, one
    slice at a time (rows in the order of the shards).

    Args:
        parts (list): each shard's features (array or ``DiskFeatures``).
    """

    def __init__(self, parts: List):
        self.parts = parts
        self.bounds = np.cumsum([0] + [len(p) for p in parts])
        self.shape = (int(self.bounds[-1]), parts[0].shape[1])
        self.dtype = parts[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, sl: slice) -> np.ndarray:
        start, stop, _ = sl.indices(len(self))
        pieces = []
        for part, lo, hi in zip(self.parts, self.bounds[:-1], self.bounds[1:]):
            a, b = max(start, lo), min(stop, hi)
            if a < b:
                pieces.append(part[slice(a - lo, b - lo)])
        if not pieces:
            return np.empty((0, self.shape[1]), self.dtype)
        return np.concatenate(pieces)


def shard_files(cache: ClusterCache, key: str) -> dict:
    """The disk-store shards of the features identified by ``key``.

    Args:
        cache (ClusterCache): the cache directory.
        key (str): the features' fingerprint.

    Returns:
        dict: world size -> {rank: path}.
    """
    directory = cache.path('features')
    pattern = re.compile(re.escape(key[:16]) + r'-rank(\d+)-of-(\d+)\.npy')
    found = {}
    names = sorted(os.listdir(directory)) if osp.isdir(directory) else []
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            rank, world = int(match.group(1)), int(match.group(2))
            found.setdefault(world, {})[rank] = osp.join(directory, name)
    return found


def load_shards(cache: ClusterCache, key: str, num_samples: int,
                dtype: str) -> Tuple[FeatureShard, List[FeatureStore]]:
    """All the extracted features of a dataset, from the disk store.

    Args:
        cache (ClusterCache): the cache directory.
        key (str): the features' fingerprint (:func:`feature_key`).
        num_samples (int): N.
        dtype (str): the store's dtype.

    Returns:
        tuple: a FeatureShard of every sample's features with their
        indices, and the stores (to remove them afterwards).
    """
    found = shard_files(cache, key)
    complete = []
    for world, paths in sorted(found.items()):
        stores = {
            rank:
            FeatureStore(
                len(range(rank, num_samples, world)), dtype, path, key=key)
            for rank, path in paths.items()
        }
        done = {
            rank: store
            for rank, store in stores.items()
            if store.array is not None and store.rows_done == store.num_rows
        }
        if len(done) == world:
            complete.append((world, done))
            continue
        missing = sorted(set(range(world)) - set(done))
        raise FileNotFoundError(
            f'the features in {cache.path("features")} (key {key[:16]}, '
            f'{world} shards) are incomplete: shards {missing} are missing or '
            'unfinished. Run tools/extract_features.py for them (it resumes '
            'where each stopped).')
    if not complete:
        raise FileNotFoundError(
            f'no extracted features for this config in '
            f'{cache.path("features")} (expected files {key[:16]}-rank*-of-'
            '*.npy). Run tools/extract_features.py with the same config and '
            'work dir first.')
    world, stores = complete[-1]
    ordered = [stores[r] for r in range(world)]
    shard = FeatureShard(
        ShardedFeatures([store.finish() for store in ordered]),
        np.concatenate([
            np.arange(r, num_samples, world, dtype=np.int64)
            for r in range(world)
        ]), num_samples, ordered[0])
    return shard, ordered
