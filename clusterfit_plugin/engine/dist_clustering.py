# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""k-means over features that are spread across ranks by sample index.

Every rank holds the features of its own samples (in memory or memory-mapped).
The seeded training sample is chosen by dataset index, so its rows are the
same whatever the world size. :func:`cluster_by_index` runs four steps:
rank 0 gathers only the sample's rows (:func:`gather_sample`), fits the
preprocessing (PCA, L2) and the centroids on copies of the given objects
and broadcasts them (:func:`fit_on_rank0`), every rank preprocesses and
assigns its own samples chunk by chunk (:func:`assign_shard`), and the
labels (not the features) are gathered by index (:func:`gather_labels`).
With one process this is exactly ``KMeans.fit`` on the preprocessed sample
followed by chunked assignment. The waits between ranks follow
:mod:`.rank_protocol`.
"""
import contextlib
import copy
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from mmengine.dist import (all_gather_object, broadcast_object_list,
                           gather_object, get_dist_info)

from ..clustering import (KMeans, Preprocessor, Rows, assign_to_centroids,
                          fit_sample_indices, iter_chunks)
from .rank_protocol import (Heartbeat, all_ranks_done, collective,
                            default_store, rank0_then_broadcast,
                            report_failure, wait_for_rank0)

READY_KEY = 'clusterfit/centroids_ready'


@dataclass
class FitResult:
    """What one distributed k-means gives every rank.

    Attributes:
        preprocessor (Preprocessor): the PCA / L2 fitted on the sample.
        centroids (np.ndarray): (K, D') float32 centroids.
        objective (float): sum of squared distances of all N preprocessed
            samples to their centroids (0 until :func:`gather_labels`).
        fit_objective (float): the same over the fitting sample.
        fit_size (int): samples the centroids were fitted on.
        fit_iterations (int): k-means iterations run.
        fit_seconds (float): time of the fit on rank 0.
    """
    preprocessor: Preprocessor
    centroids: np.ndarray
    fit_objective: float
    fit_size: int
    fit_iterations: int
    fit_seconds: float
    objective: float = 0.0


def assemble_sample(parts: list, chosen: Optional[np.ndarray],
                    num_samples: int) -> np.ndarray:
    """Put the sample rows gathered from every rank in the sample's order.

    Each rank's rows are written straight to their places (the order of
    ``chosen``, faiss's, as :meth:`KMeans.fit` takes it).

    Args:
        parts (list): ``(dataset indices, rows)`` of every rank.
        chosen (np.ndarray | None): the sample's dataset indices in its
            order, or None when the sample is every sample in index order.
        num_samples (int): N over all ranks.

    Returns:
        np.ndarray: (M, D) sample, in the dtype the features are stored in.
    """
    size = num_samples if chosen is None else len(chosen)
    first = next(rows for _, rows in parts if rows.size)
    sample = np.empty((size, first.shape[1]), dtype=first.dtype)
    if chosen is not None:
        order = np.argsort(chosen)
        sorted_chosen = chosen[order]
    filled = 0
    for idx, rows in parts:
        if not len(idx):
            continue
        sample[idx if chosen is
               None else order[np.searchsorted(sorted_chosen, idx)]] = rows
        filled += len(idx)
    if filled != size:
        raise RuntimeError(f'the ranks sent {filled} of the {size} sample '
                           'rows: the shards do not cover the dataset.')
    return sample


def gather_sample(features: Rows, indices: np.ndarray, num_samples: int,
                  kmeans: KMeans) -> Optional[np.ndarray]:
    """The seeded fitting sample, gathered from every rank on rank 0.

    Args:
        features (Rows): (n, D) raw features of this rank's samples.
        indices (np.ndarray): (n,) their dataset indices.
        num_samples (int): N over all ranks.
        kmeans (KMeans): K, the seed and the sample's cap.

    Returns:
        np.ndarray | None: the (M, D) sample on rank 0 (in the features'
        dtype), None on the others.
    """
    # Drawn on rank 0 only (the draw holds one int32 per sample while it
    # runs) and sent to the others: at most max_points_per_centroid * K ints.
    chosen = rank0_then_broadcast(
        lambda: fit_sample_indices(num_samples, kmeans.num_clusters, kmeans.
                                   max_points_per_centroid, kmeans.seed))
    mask = (
        np.ones(len(indices), dtype=bool) if chosen is None else np.isin(
            indices, chosen))
    rows = [
        features[sl][mask[sl]]
        for sl in iter_chunks(len(indices), kmeans.chunk_size)
    ]
    mine = np.concatenate(rows) if rows else np.empty((0, 0), np.float32)
    del rows
    parts = collective(
        'gathering the fitting sample',
        gather_object, (indices[mask], mine),
        dst=0)
    del mine
    if get_dist_info()[0] != 0:
        return None
    sample = assemble_sample(parts, chosen, num_samples)
    del parts
    return sample


def fit_on_rank0(sample: Optional[np.ndarray],
                 kmeans: KMeans,
                 preprocessor: Preprocessor,
                 round_id: int = 0,
                 wait_poll_s: float = 60.0) -> FitResult:
    """Fit copies of ``preprocessor`` and ``kmeans`` on rank 0's sample and
    give the result to every rank (the others wait in store slices).

    Args:
        sample (np.ndarray | None): the sample (rank 0), None elsewhere.
        kmeans (KMeans): the configured k-means (not changed).
        preprocessor (Preprocessor): PCA / L2 settings (not changed).
        round_id (int): distinguishes the store keys of successive calls.
        wait_poll_s (float): see :func:`wait_for_rank0`. Defaults to 60.

    Returns:
        FitResult: the fitted preprocessing and centroids, on every rank.
    """
    rank, world_size = get_dist_info()
    store = default_store() if world_size > 1 else None
    key = f'{READY_KEY}/{round_id}'
    payload = [None]
    if rank == 0:
        # Rank 0 beats while it fits, so that waiting ranks notice its death
        # even when the store outlives it (file://, torchrun's agent store).
        beat = (
            Heartbeat(store, f'{key}/beat', wait_poll_s /
                      4) if store is not None else contextlib.nullcontext())
        try:
            with beat:
                fitted = copy.deepcopy(preprocessor)
                fitted.fit(sample)
                km = copy.deepcopy(kmeans).fit(sample, fitted)
        except Exception as err:
            if store is not None:
                report_failure(store, key, err, world_size, wait_poll_s)
            raise
        payload = [
            FitResult(
                preprocessor=fitted,
                centroids=km.centroids,
                fit_objective=km.fit_objective,
                fit_size=km.fit_size,
                fit_iterations=km.fit_iterations,
                fit_seconds=km.fit_seconds)
        ]
        if store is not None:
            store.set(key, '1')
    elif store is not None:
        wait_for_rank0(store, key, wait_poll_s)
    collective(
        'sending the fitted centroids', broadcast_object_list, payload, src=0)
    return payload[0]


def assign_shard(features: Rows,
                 fit: FitResult,
                 kmeans: KMeans,
                 round_id: int = 0,
                 wait_poll_s: float = 60.0) -> Tuple[np.ndarray, np.ndarray]:
    """Preprocess and assign this rank's samples, chunk by chunk; a failure
    on any rank ends every rank (:func:`all_ranks_done`).

    Args:
        features (Rows): (n, D) raw features of this rank's samples.
        fit (FitResult): the fitted preprocessing and centroids.
        kmeans (KMeans): the backend, chunk size and log interval.
        round_id (int): distinguishes the store keys of successive calls.
        wait_poll_s (float): see :func:`all_ranks_done`. Defaults to 60.

    Returns:
        tuple: (n,) int64 labels and (n,) float32 squared distances.
    """

    def assign() -> Tuple[np.ndarray, np.ndarray]:
        return assign_to_centroids(features, fit.centroids, kmeans.backend,
                                   kmeans.chunk_size, kmeans.log_interval_s,
                                   fit.preprocessor, kmeans.allow_tf32)

    return all_ranks_done(assign, 'assignment', round_id, wait_poll_s)


def gather_labels(indices: np.ndarray, labels: np.ndarray, dists: np.ndarray,
                  num_samples: int) -> Tuple[np.ndarray, float]:
    """Every sample's label, gathered by dataset index on every rank.

    Args:
        indices (np.ndarray): (n,) this rank's dataset indices.
        labels (np.ndarray): (n,) their labels.
        dists (np.ndarray): (n,) their squared distances.
        num_samples (int): N over all ranks.

    Returns:
        tuple: (N,) int64 labels and the objective (sum of all squared
        distances).
    """
    out = np.full(num_samples, -1, dtype=np.int64)
    objective = 0.0
    gathered = collective('gathering the labels', all_gather_object,
                          (indices, labels, dists))
    for idx, lab, dist in gathered:
        out[idx] = lab
        objective += float(dist.astype(np.float64).sum())
    if (out < 0).any():
        missing = np.flatnonzero(out < 0)[:5].tolist()
        raise RuntimeError(f'no rank labelled samples {missing}: the shards '
                           'do not cover the dataset.')
    return out, objective


def reads_in_place(features: Rows, indices: np.ndarray, num_samples: int,
                   kmeans: KMeans, preprocessor: Preprocessor) -> bool:
    """Whether k-means can read its sample from ``features`` itself.

    True in one process holding every sample in index order, when the
    sample is every row, nothing is fitted on it but k-means (no PCA) and
    the torch backend reads it chunk by chunk onto its device: then no
    full-size copy is made on the host. The result is the same either way.

    Args:
        features (Rows): (n, D) raw features of this rank's samples.
        indices (np.ndarray): (n,) their dataset indices.
        num_samples (int): N over all ranks.
        kmeans (KMeans): the configured k-means.
        preprocessor (Preprocessor): PCA / L2 settings.

    Returns:
        bool: read in place.
    """
    return (kmeans.backend == 'torch' and get_dist_info()[1] == 1
            and preprocessor.pca_dim is None
            and np.array_equal(indices, np.arange(num_samples))
            and fit_sample_indices(num_samples, kmeans.num_clusters,
                                   kmeans.max_points_per_centroid,
                                   kmeans.seed) is None)


def cluster_by_index(
        features: Rows,
        indices: np.ndarray,
        num_samples: int,
        kmeans: KMeans,
        preprocessor: Preprocessor,
        round_id: int = 0,
        wait_poll_s: float = 60.0) -> Tuple[np.ndarray, FitResult]:
    """Fit k-means across ranks and label every sample; ``kmeans`` and
    ``preprocessor`` are not changed (their fitted copies are in the
    result).

    Args:
        features (Rows): (n, D) raw features of this rank's samples, read
            chunk by chunk.
        indices (np.ndarray): (n,) their dataset indices.
        num_samples (int): N over all ranks.
        kmeans (KMeans): the configured k-means.
        preprocessor (Preprocessor): PCA / L2 settings.
        round_id (int): distinguishes the store keys of successive calls.
        wait_poll_s (float): see :func:`wait_for_rank0`. Defaults to 60.

    Returns:
        tuple: labels (N,) int64 and the :class:`FitResult`, on every rank.
    """
    kmeans.check_size(num_samples)
    if reads_in_place(features, indices, num_samples, kmeans, preprocessor):
        sample = features
    else:
        sample = gather_sample(features, indices, num_samples, kmeans)
    fit = fit_on_rank0(sample, kmeans, preprocessor, round_id, wait_poll_s)
    del sample
    local_labels, local_dists = assign_shard(features, fit, kmeans, round_id,
                                             wait_poll_s)
    labels, fit.objective = gather_labels(indices, local_labels, local_dists,
                                          num_samples)
    return labels, fit
