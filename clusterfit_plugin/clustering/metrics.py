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


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """NMI of two labellings (arithmetic-mean normalisation, as
    scikit-learn's default).

    Args:
        a (np.ndarray): (N,) non-negative int labels.
        b (np.ndarray): (N,) non-negative int labels.

    Returns:
        float: NMI in [0, 1]; 1.0 when both labellings are a single cluster.
    """
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.bincount(a * (b.max() + 1) + b,
                        minlength=(a.max() + 1) * (b.max() + 1)).reshape(
                            a.max() + 1, b.max() + 1).astype(np.float64)
    ha, hb = _entropy(joint.sum(1)), _entropy(joint.sum(0))
    if ha == 0 and hb == 0:
        return 1.0
    mi = ha + hb - _entropy(joint.ravel())
    return float(max(mi, 0.0) / max((ha + hb) / 2, 1e-12))
