"""Clustering on numpy / torch / faiss alone: usable without mmengine."""
from .features import check_finite, l2_normalize_
from .kmeans import (BACKENDS, KMeans, assign_to_centroids,
                     fit_sample_indices, resolve_backend)
from .metrics import cluster_size_stats, normalized_mutual_info

__all__ = [
    'BACKENDS', 'KMeans', 'assign_to_centroids', 'check_finite',
    'cluster_size_stats', 'fit_sample_indices', 'l2_normalize_',
    'normalized_mutual_info',
    'resolve_backend'
]
