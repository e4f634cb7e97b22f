# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Shared by the benchmark scripts: synthetic features and images, and the
k-means objective."""
import os
import os.path as osp

import cv2
import numpy as np


def write_images(root: str, num: int, size: int, ext: str = '.png') -> None:
    """``num`` random ``size`` px images and their annotation list
    ``ann.txt`` (mmpretrain's format, class 0).

    Args:
        root (str): where ``img/`` and ``ann.txt`` go.
        num (int): images.
        size (int): side in pixels.
        ext (str): file type. Defaults to ``'.png'``.
    """
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'img'))
    with open(osp.join(root, 'ann.txt'), 'w') as f:
        for i in range(num):
            img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            cv2.imwrite(osp.join(root, 'img', f'{i}{ext}'), img)
            f.write(f'img/{i}{ext} 0\n')


def synthetic_chunk(start: int,
                    stop: int,
                    dim: int,
                    num_modes: int = 2000,
                    seed: int = 0) -> np.ndarray:
    """Rows ``start:stop`` of a fixed Gaussian mixture, generated chunk by
    chunk (any chunking gives the same rows), float32.

    Args:
        start (int): first row.
        stop (int): end row.
        dim (int): D.
        num_modes (int): mixture components. Defaults to 2000.
        seed (int): seed of the mixture. Defaults to 0.

    Returns:
        np.ndarray: (stop - start, D) float32.
    """
    centers = np.random.default_rng(seed).normal(size=(num_modes,
                                                       dim)).astype(np.float32)
    rows = np.arange(start, stop)
    rng = np.random.default_rng([seed, start])
    modes = rows * 7919 % num_modes
    noise = rng.normal(scale=0.6, size=(len(rows), dim)).astype(np.float32)
    return centers[modes] + noise


def objective(x: np.ndarray, centroids: np.ndarray) -> float:
    """Sum of squared distances of every row to its nearest centroid,
    computed the same way for every method (faiss flat search).

    Args:
        x (np.ndarray): (N, D) float32.
        centroids (np.ndarray): (K, D) float32.

    Returns:
        float: the objective.
    """
    import faiss
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    dist, _ = index.search(x, 1)
    return float(dist.astype(np.float64).sum())
