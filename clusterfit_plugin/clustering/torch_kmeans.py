# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""k-means in torch, seeded and deterministic: faiss's algorithm (random
start from the training points, empty clusters split from the largest,
faiss's early stop) on CUDA when available, and greedy k-means++ seeding
in numpy."""
from typing import Tuple

import numpy as np
import torch

from ..utils.progress import ProgressLogger
from .sampling import iter_chunks


def nearest_centroids(x: torch.Tensor, centroids: torch.Tensor,
                      centroid_sqnorm: torch.Tensor,
                      chunk_size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid (squared L2) of each row of ``x``, chunk by chunk.

    Args:
        x (Tensor): (N, D) points.
        centroids (Tensor): (K, D) centroids.
        centroid_sqnorm (Tensor): (K,) their squared norms.
        chunk_size (int): rows at a time.

    Returns:
        tuple: (N,) int64 labels and (N,) float32 squared distances.
    """
    labels = torch.empty(x.shape[0], dtype=torch.int64, device=x.device)
    dists = torch.empty(x.shape[0], dtype=torch.float32, device=x.device)
    for sl in iter_chunks(x.shape[0], chunk_size):
        xc = x[sl]
        d = centroid_sqnorm[None, :] - 2.0 * (xc @ centroids.T)
        dmin, amin = d.min(dim=1)
        labels[sl] = amin
        dists[sl] = (dmin + (xc * xc).sum(1)).clamp_min_(0)
    return labels, dists


def torch_device() -> str:
    """str: ``'cuda'`` when available, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def kmeans_plus_plus(x: np.ndarray,
                     num_clusters: int,
                     seed: int,
                     table_bytes: int = 256 * 2**20) -> np.ndarray:
    """Greedy k-means++ seeding (as scikit-learn: 2 + log K trials a step).

    Runs in numpy on the CPU: it is meant for the seeding sub-sample of
    :class:`KMeans` (a few points per centroid), where the K sequential steps
    are small and a GPU would only add launch overhead. When the table of all
    pairwise squared distances fits in ``table_bytes`` it is computed once
    (one symmetric product), which costs fewer flops than the
    ``trials * K`` rows the steps would otherwise compute one by one.

    Args:
        x (np.ndarray): (M, D) float32 points.
        num_clusters (int): K.
        seed (int): seed of the draws.
        table_bytes (int): largest M x M float32 distance table to build.
            Defaults to 256 MiB (M up to 8,192).

    Returns:
        np.ndarray: (K, D) float32 initial centroids, rows of ``x``.
    """
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    trials = 2 + int(np.log(num_clusters))
    sqnorm = np.einsum('ij,ij->i', x, x)

    def to_sq_dists(dots: np.ndarray, rows) -> np.ndarray:
        dots *= -2
        dots += sqnorm[rows, None]
        dots += sqnorm[None]
        return np.maximum(dots, 0, out=dots)

    if 4 * n * n <= table_bytes:
        sq_dists = to_sq_dists(x @ x.T, slice(None)).__getitem__
    else:

        def sq_dists(rows: np.ndarray) -> np.ndarray:
            return to_sq_dists(x[rows] @ x.T, rows)

    chosen = [int(rng.integers(n))]
    closest = sq_dists(np.array(chosen))[0]
    for _ in range(1, num_clusters):
        cdf = np.cumsum(closest, dtype=np.float64)
        if cdf[-1] <= 0:  # every point already is a centroid
            cand = rng.integers(n, size=trials)
        else:
            cand = np.minimum(
                np.searchsorted(cdf,
                                rng.random(trials) * cdf[-1]), n - 1)
        dist = np.minimum(closest[None], sq_dists(cand))
        best = int(dist.sum(1, dtype=np.float64).argmin())
        chosen.append(int(cand[best]))
        closest = dist[best]
    return x[chosen].copy()


def _cluster_sums(x: torch.Tensor, labels: torch.Tensor,
                  num_clusters: int) -> torch.Tensor:
    """Sum of the rows of ``x`` in each cluster, the same bits every run.

    On CUDA ``index_add_`` adds with atomics in no fixed order, so two seeded
    runs would differ in the last bits; ``index_put_(accumulate=True)``
    sorts by label first and is deterministic there. On the CPU
    ``index_add_`` is sequential (deterministic) and faster.
    """
    sums = x.new_zeros(num_clusters, x.shape[1])
    if x.is_cuda:
        return sums.index_put_((labels, ), x, accumulate=True)
    return sums.index_add_(0, labels, x)


def torch_lloyd(x: np.ndarray, init: np.ndarray, niter: int,
                early_stop_threshold: float, seed: int, spherical: bool,
                chunk_size: int,
                progress: ProgressLogger) -> Tuple[np.ndarray, float, int]:
    """faiss-style k-means in torch (CUDA when available): Lloyd steps,
    empty clusters re-seeded by splitting the largest, faiss's early stop.

    Args:
        x (np.ndarray): (M, D) float32 training points.
        init (np.ndarray): (K, D) initial centroids.
        niter (int): iterations at most.
        early_stop_threshold (float): faiss's relative objective change.
        seed (int): seed of the re-seeding noise.
        spherical (bool): normalise centroids after each step.
        chunk_size (int): rows per distance chunk.
        progress (ProgressLogger): logs the objective.

    Returns:
        tuple: centroids, final objective, iterations run.
    """
    device = torch_device()
    xt = torch.from_numpy(x).to(device)
    num_clusters = init.shape[0]
    centroids = torch.from_numpy(init).to(device).clone()
    gen = torch.Generator(device='cpu').manual_seed(seed)
    objective = float('inf')
    for it in range(niter):
        labels, dists = nearest_centroids(xt, centroids,
                                          (centroids * centroids).sum(1),
                                          chunk_size)
        previous, objective = objective, float(dists.double().sum())
        counts = torch.bincount(labels, minlength=num_clusters)
        sums = _cluster_sums(xt, labels, num_clusters)
        nonempty = counts > 0
        centroids[nonempty] = sums[nonempty] / counts[nonempty, None].to(
            sums.dtype)
        # Re-seed empty clusters by splitting the largest one (faiss's rule).
        for k in torch.nonzero(~nonempty).flatten().tolist():
            big = int(torch.argmax(counts))
            eps = 1.0 / 1024
            noise = (torch.rand(centroids.shape[1], generator=gen) - 0.5) * eps
            noise = noise.to(device)
            centroids[k] = centroids[big] * (1 + noise)
            centroids[big] = centroids[big] * (1 - noise)
            counts[k] = counts[big] // 2
            counts[big] -= counts[k]
        if spherical:
            centroids /= centroids.norm(dim=1, keepdim=True).clamp_min(1e-12)
        progress.log(f'k-means iteration {it + 1}/{niter}: objective '
                     f'{objective:.6g}')
        # faiss's early stop, checked after the update as faiss does.
        if it > 0 and previous - objective <= early_stop_threshold * previous:
            break
    return centroids.cpu().numpy(), objective, it + 1
