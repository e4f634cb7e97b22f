"""k-means over features that are spread across ranks by sample index.

Every rank holds the features of its own samples. The seeded training
sample is chosen by dataset index, so its rows are the same whatever the
world size: rank 0 gathers only those rows, fits the centroids and
broadcasts them; every rank assigns its own samples in chunks; the labels
(not the features) are gathered by index. With one process this is exactly
``KMeans.fit`` followed by ``KMeans.assign``.
"""
from typing import Tuple

import numpy as np
from mmengine.dist import (all_gather_object, broadcast_object_list,
                           gather_object, get_dist_info)

from ..clustering import KMeans, assign_to_centroids, fit_sample_indices


def cluster_by_index(features: np.ndarray, indices: np.ndarray,
                     num_samples: int,
                     kmeans: KMeans) -> Tuple[np.ndarray, np.ndarray, dict]:
    """Fit k-means across ranks and label every sample.

    Args:
        features (np.ndarray): (n, D) features of this rank's samples.
        indices (np.ndarray): (n,) their dataset indices.
        num_samples (int): N over all ranks.
        kmeans (KMeans): the configured k-means.

    Returns:
        tuple: labels (N,) int64 and centroids (K, D) float32 on every rank,
        and a dict with ``objective`` (sum of squared distances of all N
        samples), ``fit_objective``, ``fit_size`` and ``fit_seconds``.
    """
    rank, _ = get_dist_info()
    kmeans.check_size(num_samples)
    chosen = fit_sample_indices(num_samples, kmeans.num_clusters,
                                kmeans.max_points_per_centroid, kmeans.seed)
    mask = (np.ones(len(indices), dtype=bool)
            if chosen is None else np.isin(indices, chosen))
    parts = gather_object((indices[mask], features[mask]), dst=0)
    payload = [None]
    if rank == 0:
        idx = np.concatenate([p[0] for p in parts])
        rows = np.concatenate([p[1] for p in parts if p[1].size])
        sample = np.ascontiguousarray(rows[np.argsort(idx, kind='stable')],
                                      dtype=np.float32)
        kmeans.fit(sample)
        payload = [(kmeans.centroids, kmeans.fit_objective,
                    kmeans.fit_size, kmeans.fit_seconds)]
    broadcast_object_list(payload, src=0)
    (kmeans.centroids, kmeans.fit_objective, kmeans.fit_size,
     kmeans.fit_seconds) = payload[0]

    local_labels, local_dists = assign_to_centroids(features,
                                                    kmeans.centroids,
                                                    kmeans.backend,
                                                    kmeans.chunk_size)
    labels = np.full(num_samples, -1, dtype=np.int64)
    objective = 0.0
    for idx, lab, dist in all_gather_object(
        (indices, local_labels, local_dists)):
        labels[idx] = lab
        objective += float(dist.astype(np.float64).sum())
    if (labels < 0).any():
        missing = np.flatnonzero(labels < 0)[:5].tolist()
        raise RuntimeError(f'no rank labelled samples {missing}: the shards '
                           'do not cover the dataset.')
    return labels, kmeans.centroids, dict(
        objective=objective,
        fit_objective=kmeans.fit_objective,
        fit_size=kmeans.fit_size,
        fit_seconds=kmeans.fit_seconds)
