# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The frozen features of an evaluation split: in memory in one process,
or extracted by rank into the plugin's disk store (``feature_dir``), where
an interrupted extraction resumes and rank 0 reads every shard back."""
import hashlib
import json
import os.path as osp
from typing import Optional

import numpy as np
from mmengine.dist import barrier, get_dist_info

from ..clustering import iter_chunks
from ..engine.cache import ClusterCache
from ..engine.extractor import extract_features
from ..engine.stored_features import load_shards

# The evaluation's store keeps float32: the same numbers as in memory.
STORE_DTYPE = 'float32'


def split_key(feature_id: str, dataset_cfg: dict) -> str:
    """Fingerprint of one split's features: the model's (checkpoint,
    stage, pooling) and the split's config (data, pipeline).

    Args:
        feature_id (str): what identifies the model's features.
        dataset_cfg (dict): the split's dataset config.

    Returns:
        str: a SHA-256 hex digest.
    """
    text = json.dumps([feature_id, dataset_cfg], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def frozen_features(model,
                    dataset,
                    dataset_cfg: dict,
                    settings,
                    feature_id: str = '') -> Optional[np.ndarray]:
    """Every sample's features, in dataset order.

    Without ``settings.feature_dir`` the split is extracted in memory, in
    one process. With it, each rank extracts samples ``rank, rank + world,
    ...`` into a resumable float32 store under
    ``{feature_dir}/{key[:16]}/features/``; after a barrier rank 0 reads
    the shards back.

    Args:
        model (nn.Module): the frozen model.
        dataset: the built split.
        dataset_cfg (dict): its config (the pipeline; the store's key).
        settings (EvalSettings): stage, batch size, workers, channels-last,
            ``feature_dir``.
        feature_id (str): what identifies the model's features (the
            checkpoint's hash, the stage, the pooling).

    Returns:
        np.ndarray | None: (N, D) features; None on ranks other than 0.
    """
    rank, world_size = get_dist_info()
    kwargs = dict(
        batch_size=settings.batch_size,
        num_workers=settings.num_workers,
        channels_last=settings.channels_last,
        progress=rank == 0)
    if settings.feature_dir is None:
        if world_size > 1:
            raise ValueError(
                f'{world_size} ranks evaluate through the disk store: give '
                '--feature-dir (a folder every rank can write).')
        return extract_features(model, dataset, dataset_cfg['pipeline'],
                                np.arange(len(dataset)), settings.stage,
                                **kwargs)
    num = len(dataset)
    key = split_key(feature_id, dataset_cfg)
    cache = ClusterCache(osp.join(settings.feature_dir, key[:16]))
    indices = np.arange(rank, num, world_size, dtype=np.int64)
    store = cache.feature_store(
        len(indices), STORE_DTYPE, key, rank, world_size, flush_every=8192)
    extract_features(
        model,
        dataset,
        dataset_cfg['pipeline'],
        indices,
        settings.stage,
        store=store,
        **kwargs)
    barrier()
    if rank != 0:
        return None
    shard, _ = load_shards(cache, key, num, STORE_DTYPE)
    features = np.empty(shard.features.shape, dtype=np.float32)
    for sl in iter_chunks(num, 65536):
        features[shard.indices[sl]] = shard.features[sl]
    return features
