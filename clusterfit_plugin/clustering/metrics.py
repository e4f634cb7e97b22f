"""Statistics of a clustering."""
import numpy as np


def cluster_size_stats(labels: np.ndarray, num_clusters: int) -> dict:
    """Sizes of the clusters.

    Args:
        labels (np.ndarray): (N,) cluster ids in ``[0, num_clusters)``.
        num_clusters (int): K.

    Returns:
        dict: ``min``, ``median``, ``max`` cluster size (over all K clusters,
        empty ones included) and ``empty`` (number of empty clusters).
    """
    sizes = np.bincount(labels, minlength=num_clusters)
    return dict(
        min=int(sizes.min()),
        median=float(np.median(sizes)),
        max=int(sizes.max()),
        empty=int((sizes == 0).sum()))
