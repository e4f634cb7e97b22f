# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Pictures and scores of a clustering: a cluster-size histogram, a grid of
samples per cluster, and NMI / ARI / purity against known labels."""
import json
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


def to_tile(inputs, size: int = 64, frames: int = 4) -> np.ndarray:
    """A packed sample's ``inputs`` as an RGB tile.

    Images (``C x H x W``, BGR as mmpretrain loads them) give one square
    tile; clips (``C x T x H x W``, RGB as the video decoders give them) give
    a strip of ``frames`` evenly spaced frames side by side, so that motion
    shows.

    Args:
        inputs (Tensor | np.ndarray): the packed input.
        size (int): tile side. Defaults to 64.
        frames (int): frames of a clip's strip. Defaults to 4.

    Returns:
        np.ndarray: (size, size, 3) uint8 RGB for an image, (size,
        size * frames, 3) for a clip.
    """
    x = np.asarray(inputs)
    if x.ndim == 4:
        steps = np.linspace(0, x.shape[1] - 1, min(frames, x.shape[1]))
        return np.concatenate([
            _square(x[:, int(round(t))].transpose(1, 2, 0), size)
            for t in steps
        ],
                              axis=1)
    return _square(x.transpose(1, 2, 0)[..., ::-1], size)


def _square(frame: np.ndarray, size: int) -> np.ndarray:
    """An (H, W, C) frame as a (size, size, 3) uint8 RGB tile."""
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    return cv2.resize(
        np.ascontiguousarray(frame), (size, size),
        interpolation=cv2.INTER_NEAREST)


FONT = cv2.FONT_HERSHEY_SIMPLEX


def text_patch(text: str, height: int, width: int) -> np.ndarray:
    """Black text on white, as the grid's row labels and title are drawn.

    Args:
        text (str): one line.
        height (int): patch height.
        width (int): patch width.

    Returns:
        np.ndarray: (height, width, 3) uint8 RGB.
    """
    patch = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(patch, text, (4, height // 2 + 5), FONT, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)
    return patch


def row_label(cluster: int, size: int) -> str:
    """The label of a grid row: the cluster id and its size.

    Args:
        cluster (int): the cluster id.
        size (int): its number of samples.

    Returns:
        str: e.g. ``'#12 n=340'``.
    """
    return f'#{cluster} n={size}'


def cluster_grid(labels: np.ndarray,
                 load: Callable[[int], np.ndarray],
                 num_clusters_shown: int = 8,
                 per_cluster: int = 8,
                 clusters: Optional[np.ndarray] = None,
                 title: str = '') -> np.ndarray:
    """One row per cluster (the largest ones unless ``clusters`` is given),
    labelled with the cluster id and size, the first ``per_cluster``
    samples of each, under a title line.

    Args:
        labels (np.ndarray): (N,) cluster ids.
        load (Callable[[int], np.ndarray]): sample index -> RGB tile (all
            tiles the same shape, e.g. from :func:`to_tile`).
        num_clusters_shown (int): rows. Defaults to 8.
        per_cluster (int): columns. Defaults to 8.
        clusters (np.ndarray, optional): the clusters to show.
        title (str): the line above the rows. Defaults to none.

    Returns:
        np.ndarray: the grid, RGB uint8.
    """
    sizes = np.bincount(labels)
    if clusters is None:
        clusters = np.argsort(-sizes, kind='stable')[:num_clusters_shown]
        clusters = clusters[sizes[clusters] > 0]
    members = [np.flatnonzero(labels == k)[:per_cluster] for k in clusters]
    tiles = [[load(int(i)) for i in idx] for idx in members]
    tile_h, tile_w = next(t[0].shape[:2] for t in tiles if t)
    pad, label_w, title_h = 2, 96, 22 if title else 0
    grid = np.full((title_h + len(clusters) * (tile_h + pad) + pad,
                    label_w + per_cluster * (tile_w + pad) + pad, 3), 255,
                   np.uint8)
    if title:
        grid[:title_h] = text_patch(title, title_h, grid.shape[1])
    for row, (k, row_tiles) in enumerate(zip(clusters, tiles)):
        y = title_h + pad + row * (tile_h + pad)
        grid[y:y + tile_h, :label_w] = text_patch(
            row_label(int(k), int(sizes[k])), tile_h, label_w)
        for col, tile in enumerate(row_tiles):
            x = label_w + pad + col * (tile_w + pad)
            grid[y:y + tile_h, x:x + tile_w] = tile
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
    shown = min(grid_clusters, int((np.bincount(labels) > 0).sum()))
    title = (f'{tag}: the {shown} largest of K={num_clusters} clusters, '
             f'N={len(labels)}; rows: cluster id, size')
    images = dict(
        cluster_sizes=size_histogram(labels, num_clusters),
        cluster_grid=cluster_grid(
            labels, load_tile, grid_clusters, per_cluster, title=title))
    for name, image in images.items():
        save_png(osp.join(directory, f'{name}_{tag}.png'), image)
        if visualizer is not None:
            visualizer.add_image(f'clusterfit_{name}_{tag}', image, step=step)
    return scores


def replay_diagnostics(directory: str,
                       tag: str,
                       visualizer,
                       step: int = 0) -> bool:
    """Give a visualizer the scores and pictures that
    :func:`write_diagnostics` wrote to ``directory`` (on a cache hit the
    clustering is not redone, but TensorBoard should show it as on a miss).

    Args:
        directory (str): the diagnostics directory.
        tag (str): the clustering's tag (``'source'``, ``'epoch3'``).
        visualizer (Visualizer): receives the scores and pictures.
        step (int): the visualizer's step. Defaults to 0.

    Returns:
        bool: False when ``directory`` holds no scores for ``tag``.
    """
    path = osp.join(directory, f'metrics_{tag}.json')
    if not osp.isfile(path):
        return False
    with open(path, encoding='utf-8') as f:
        metrics = json.load(f)
    scores = {k: v for k, v in metrics.items() if k != 'cluster_size'}
    if scores:
        visualizer.add_scalars(
            {
                f'clusterfit/{k}': v
                for k, v in scores.items()
            }, step=step)
    for name in ('cluster_sizes', 'cluster_grid'):
        png = osp.join(directory, f'{name}_{tag}.png')
        if osp.isfile(png):
            image = cv2.imread(png, cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f'{png} is not a readable PNG; delete it '
                                 'and the cache is re-diagnosed next time.')
            visualizer.add_image(
                f'clusterfit_{name}_{tag}',
                np.ascontiguousarray(image[..., ::-1]),
                step=step)
    print_log(
        f'logged the diagnostics ({tag}) of {directory} to the visualizer '
        '(a cache hit: nothing was re-clustered).',
        logger='current')
    return True
