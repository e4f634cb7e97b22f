# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The features of every shard of the disk store, read back as one
(what :meth:`ClusterFitPipeline.cluster_stored` clusters after
``tools/extract_features.py`` wrote the shards as independent jobs)."""
from typing import List, Tuple

import numpy as np

from ..clustering import FeatureStore, check_finite
from .cache import ClusterCache
from .clustering_round import FeatureShard


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
    found = cache.feature_shards(key)
    complete, incomplete = [], []
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
        else:
            incomplete.append((world, sorted(set(range(world)) - set(done))))
    if not complete and incomplete:  # a complete set is used whatever else
        world, missing = incomplete[0]
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
    parts = []
    for rank, store in enumerate(ordered):
        features = store.finish()
        # A shard written elsewhere (another version, a copy) is read, not
        # trusted: its non-finite rows would become labels.
        check_finite(
            features, np.arange(rank, num_samples,
                                world), f'the stored features {store.path}',
            'Delete that shard and run tools/extract_features.py for it '
            'again; nothing was clustered.')
        parts.append(features)
    shard = FeatureShard(
        ShardedFeatures(parts),
        np.concatenate([
            np.arange(r, num_samples, world, dtype=np.int64)
            for r in range(world)
        ]), num_samples, ordered[0])
    return shard, ordered
