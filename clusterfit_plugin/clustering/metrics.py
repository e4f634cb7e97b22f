# Copyright (c) clusterfit_plugin contributors. All rights reserved.
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
    joint = np.bincount(
        a * (b.max() + 1) + b,
        minlength=(a.max() + 1) * (b.max() + 1)).reshape(
            a.max() + 1,
            b.max() + 1).astype(np.float64)
    ha, hb = _entropy(joint.sum(1)), _entropy(joint.sum(0))
    if ha == 0 and hb == 0:
        return 1.0
    mi = ha + hb - _entropy(joint.ravel())
    return float(max(mi, 0.0) / max((ha + hb) / 2, 1e-12))


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    return table


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labellings (as scikit-learn's).

    Args:
        a (np.ndarray): (N,) labels.
        b (np.ndarray): (N,) labels.

    Returns:
        float: ARI; 1.0 for identical partitions.
    """
    table = _contingency(a, b).astype(np.float64)
    pairs = lambda x: (x * (x - 1) / 2).sum()  # noqa: E731
    index = pairs(table)
    rows, cols = pairs(table.sum(1)), pairs(table.sum(0))
    total = pairs(np.array([table.sum()]))
    expected = rows * cols / total if total else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def purity(clusters: np.ndarray, classes: np.ndarray) -> float:
    """Share of samples whose class is their cluster's majority class.

    Args:
        clusters (np.ndarray): (N,) cluster ids.
        classes (np.ndarray): (N,) true class ids.

    Returns:
        float: purity in [0, 1].
    """
    table = _contingency(clusters, classes)
    return float(table.max(1).sum() / table.sum())
