# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Pictures and scores of a clustering: a cluster-size histogram, a grid of
samples per cluster, and NMI / ARI / purity against known labels."""
import os.path as osp
from typing import Callable, Dict, Optional

import cv2
import numpy as np
from mmengine.logging import print_log

from ..clustering import (adjusted_rand_index, cluster_size_stats,
                          normalized_mutual_info, purity)
from ..fileio import atomic_save_bytes, atomic_save_json


def save_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG, atomically.

    Args:
        path (str): destination file.
        rgb (np.ndarray): (H, W, 3) uint8 RGB.
    """
    ok, data = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise ValueError(f'could not encode {path} as PNG.')
    atomic_save_bytes(path, data.tobytes())


def agreement(clusters: np.ndarray, classes: np.ndarray) -> Dict[str, float]:
    """How well the clusters match known classes.

    Args:
        clusters (np.ndarray): (N,) cluster ids.
        classes (np.ndarray): (N,) class ids; samples with a negative id
            (unknown) are left out.

    Returns:
        dict: ``nmi``, ``ari``, ``purity`` and ``num_labelled``.
    """
    known = classes >= 0
    clusters, classes = clusters[known], classes[known]
    return dict(
        nmi=normalized_mutual_info(clusters, classes),
        ari=adjusted_rand_index(clusters, classes),
        purity=purity(clusters, classes),
        num_labelled=int(known.sum()))


def size_histogram(labels: np.ndarray, num_clusters: int) -> np.ndarray:
    """A histogram of cluster sizes, as an RGB image.

    Args:
        labels (np.ndarray): (N,) cluster ids.
        num_clusters (int): K.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    # Drawn on its own Agg canvas: no pyplot, no global backend change.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    sizes = np.bincount(labels, minlength=num_clusters)
    fig = Figure(figsize=(6, 3.5), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.hist(sizes, bins=min(50, max(5, num_clusters // 4)), color='#3a6ea5')
    ax.set_xlabel('samples per cluster')
    ax.set_ylabel('clusters')
    ax.set_title(f'K={num_clusters}, N={len(labels)}, '
                 f'{int((sizes == 0).sum())} empty')
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def to_tile(inputs, size: int = 64) -> np.ndarray:
    """A packed sample's ``inputs`` as an RGB tile.

    Images (``C x H x W``, BGR as mmpretrain loads them) and clips
    (``C x T x H x W``, RGB as the video decoders give them; the middle
    frame is shown) are both accepted.

    Args:
        inputs (Tensor | np.ndarray): the packed input.
        size (int): tile side. Defaults to 64.

    Returns:
        np.ndarray: (size, size, 3) uint8 RGB.
    """
    x = np.asarray(inputs)
    if x.ndim == 4:
        frame = x[:, x.shape[1] // 2].transpose(1, 2, 0)
    else:
        frame = x.transpose(1, 2, 0)[..., ::-1]
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    return cv2.resize(
        np.ascontiguousarray(frame), (size, size),
        interpolation=cv2.INTER_NEAREST)


def cluster_grid(labels: np.ndarray,
                 load: Callable[[int], np.ndarray],
                 num_clusters_shown: int = 8,
                 per_cluster: int = 8,
                 tile: int = 64,
                 clusters: Optional[np.ndarray] = None) -> np.ndarray:
    """One row per cluster (the largest ones unless ``clusters`` is given),
    the first ``per_cluster`` samples of each.

    Args:
        labels (np.ndarray): (N,) cluster ids.
        load (Callable[[int], np.ndarray]): sample index -> RGB tile.
        num_clusters_shown (int): rows. Defaults to 8.
        per_cluster (int): columns. Defaults to 8.
        tile (int): tile side. Defaults to 64.
        clusters (np.ndarray, optional): the clusters to show.

    Returns:
        np.ndarray: the grid, RGB uint8.
    """
    if clusters is None:
        sizes = np.bincount(labels)
        clusters = np.argsort(-sizes, kind='stable')[:num_clusters_shown]
        clusters = clusters[sizes[clusters] > 0]
    pad = 2
    grid = np.full((len(clusters) * (tile + pad) + pad, per_cluster *
                    (tile + pad) + pad, 3), 255, np.uint8)
    for row, k in enumerate(clusters):
        for col, idx in enumerate(np.flatnonzero(labels == k)[:per_cluster]):
            y, x = pad + row * (tile + pad), pad + col * (tile + pad)
            grid[y:y + tile, x:x + tile] = load(int(idx))
    return grid


def write_diagnostics(labels: np.ndarray,
                      classes: np.ndarray,
                      num_clusters: int,
                      directory: str,
                      tag: str,
                      load_tile: Optional[Callable[[int], np.ndarray]] = None,
                      grid_clusters: int = 8,
                      per_cluster: int = 8,
                      visualizer=None,
                      step: int = 0) -> Dict[str, float]:
    """Write a clustering's scores and pictures to files and a visualizer.

    ``{directory}/metrics_{tag}.json`` gets the scores against ``classes``
    (when any sample has a known class) and the cluster sizes; with
    ``load_tile``, ``cluster_sizes_{tag}.png`` and ``cluster_grid_{tag}.png``
    are drawn too. The visualizer (e.g. TensorBoard) gets the same.

    Args:
        labels (np.ndarray): (N,) cluster ids.
        classes (np.ndarray): (N,) known classes, -1 where unknown.
        num_clusters (int): K.
        directory (str): where the files go.
        tag (str): names the files (``'source'``, ``'epoch3'``, ...).
        load_tile (callable, optional): sample index -> RGB tile; None
            draws no pictures.
        grid_clusters (int): rows of the grid. Defaults to 8.
        per_cluster (int): samples per row. Defaults to 8.
        visualizer (Visualizer, optional): also receives the scores and
            pictures.
        step (int): the visualizer's step. Defaults to 0.

    Returns:
        dict: ``nmi``, ``ari``, ``purity``, ``num_labelled``; empty when no
        class is known.
    """
    scores = agreement(labels, classes) if (classes >= 0).any() else {}
    if scores:
        print_log(
            f"clusters vs the dataset's labels ({tag}): NMI "
            f'{scores["nmi"]:.4f}, ARI {scores["ari"]:.4f}, purity '
            f'{scores["purity"]:.4f}.',
            logger='current')
    if scores and visualizer is not None:
        visualizer.add_scalars(
            {
                f'clusterfit/{k}': v
                for k, v in scores.items()
            }, step=step)
    atomic_save_json(
        osp.join(directory, f'metrics_{tag}.json'),
        dict(scores, cluster_size=cluster_size_stats(labels, num_clusters)))
    print_log(f'diagnostics ({tag}) in {directory}.', logger='current')
    if load_tile is None:
        return scores
    images = dict(
        cluster_sizes=size_histogram(labels, num_clusters),
        cluster_grid=cluster_grid(labels, load_tile, grid_clusters,
                                  per_cluster))
    for name, image in images.items():
        save_png(osp.join(directory, f'{name}_{tag}.png'), image)
        if visualizer is not None:
            visualizer.add_image(f'clusterfit_{name}_{tag}', image, step=step)
    return scores
