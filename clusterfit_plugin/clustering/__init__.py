# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Clustering on numpy / torch / faiss, with no Runner, no registry and no
process group (mmengine's logger reports progress): k-means, the feature
store, preprocessing and cluster statistics."""
from .assign import assign_to_centroids
from .feature_store import DTYPES, DiskFeatures, FeatureStore, check_finite
from .kmeans import BACKENDS, KMeans, resolve_backend
from .metrics import (adjusted_rand_index, cluster_size_stats,
                      normalized_mutual_info, purity)
from .preprocessing import Preprocessor
from .sampling import (faiss_rand_perm, fit_sample_indices, iter_chunks,
                       take_rows)
from .torch_kmeans import kmeans_plus_plus
from .types import Rows

__all__ = [
    'BACKENDS', 'DTYPES', 'DiskFeatures', 'FeatureStore', 'KMeans',
    'Preprocessor', 'Rows', 'adjusted_rand_index', 'assign_to_centroids',
    'check_finite', 'cluster_size_stats', 'faiss_rand_perm',
    'fit_sample_indices', 'iter_chunks', 'kmeans_plus_plus',
    'normalized_mutual_info', 'purity', 'resolve_backend', 'take_rows'
]
