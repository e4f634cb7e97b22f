# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""k-means in torch, seeded and deterministic: faiss's algorithm (random
start from the training points, empty clusters split from the largest,
faiss's early stop) on CUDA when available, and greedy k-means++ seeding
in numpy."""
import contextlib
from typing import Iterator, Optional, Tuple

import numpy as np
import torch

from ..utils.progress import ProgressLogger
from .sampling import iter_chunks


def nearest_centroids(
    x: torch.Tensor,
    centroids: torch.Tensor,
    centroid_sqnorm: torch.Tensor,
    chunk_size: int,
    sums: Optional[torch.Tensor] = None,
    out: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid (squared L2) of each row of ``x``, chunk by chunk.

    Each chunk is taken to float32 (a view when ``x`` is float32) and its
    distances to all centroids are one fp32 ``addmm`` (TF32 only where
    ``torch.backends.cuda.matmul.allow_tf32`` says so).

    Args:
        x (Tensor): (N, D) points, any float dtype.
        centroids (Tensor): (K, D) float32 centroids.
        centroid_sqnorm (Tensor): (K,) their squared norms.
        chunk_size (int): rows at a time.
        sums (Tensor, optional): (K, D) float32; each chunk's rows are
            added to the row of their nearest centroid (Lloyd's update).
        out (tuple, optional): (N,) int64 and (N,) float32 tensors to write
            the result to.

    Returns:
        tuple: (N,) int64 labels and (N,) float32 squared distances.
    """
    labels, dists = out if out is not None else (
        torch.empty(x.shape[0], dtype=torch.int64, device=x.device),
        torch.empty(x.shape[0], dtype=torch.float32, device=x.device))
    for sl in iter_chunks(x.shape[0], chunk_size):
        xc = x[sl].float()
        d = torch.addmm(centroid_sqnorm[None], xc, centroids.T, alpha=-2)
        dmin, amin = d.min(dim=1)
        del d
        labels[sl] = amin
        dmin += torch.linalg.vector_norm(xc, dim=1).square_()
        dists[sl] = dmin.clamp_min_(0)
        if sums is not None:
            _add_to_sums(sums, amin, xc)
        del xc, dmin, amin  # before the next chunk's are made
    return labels, dists


def fit_memory_plan(num_points: int, dim: int, num_clusters: int,
                    chunk_size: int, sample_dtype: torch.dtype) -> int:
    """Peak bytes a :func:`torch_lloyd` fit allocates on its device.

    With M sample rows of D dims stored in ``s`` bytes each (2 for
    float16 / bfloat16, 4 for float32), K centroids and chunks of ``c``
    rows, the fit holds the sample, an iteration's labels and distances,
    the centroids and the cluster sums (fp32), and for one chunk at a time
    its fp32 distances to every centroid, its fp32 copy (unless stored in
    fp32) and its minima::

        M*D*s + M*(8 + 4) + 2*K*D*4 + K*(4 + 8 + 1)
              + c*K*4 + c*D*4*[s < 4] + c*(4 + 8 + 4)

    Loading the sample holds ``M*D*s + c*D*(s + 4)`` at most, less than
    the above whenever ``K*4 >= D*s``. At ImageNet-1k's shape (M = N =
    1,281,167, D = 2,048), K = 16,000 and c = 65,536 this is 10.26 GB
    (9.55 GiB) in float16 and 14.97 GB in float32. A CPU test checks the
    formula against torch's record of every allocation.

    Args:
        num_points (int): M, the fitting sample's rows.
        dim (int): D.
        num_clusters (int): K.
        chunk_size (int): c (capped at M).
        sample_dtype (torch.dtype): the sample's storage dtype.

    Returns:
        int: bytes.
    """
    m, d, k = num_points, dim, num_clusters
    c = min(chunk_size, m)
    s = torch.empty((), dtype=sample_dtype).element_size()
    fit = (
        m * d * s + m * 12 + 2 * k * d * 4 + k * 13 + c * k * 4 +
        (c * d * 4 if s < 4 else 0) + c * 16)
    return max(fit, m * d * s + c * d * (s + 4))


@contextlib.contextmanager
def matmul_precision(allow_tf32: bool) -> Iterator[None]:
    """Context in which CUDA fp32 matrix products use TF32 or not; the
    previous setting is restored on exit.

    Args:
        allow_tf32 (bool): ``torch.backends.cuda.matmul.allow_tf32`` inside.
    """
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


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


def _add_to_sums(sums: torch.Tensor, labels: torch.Tensor,
                 x: torch.Tensor) -> None:
    """Add each row of ``x`` to the row of ``sums`` of its label, the same
    bits every run.

    On CUDA ``index_add_`` adds with atomics in no fixed order, so two seeded
    runs would differ in the last bits; ``index_put_(accumulate=True)``
    sorts by label first and is deterministic there. On the CPU
    ``index_add_`` is sequential (deterministic) and faster.
    """
    if x.is_cuda:
        sums.index_put_((labels, ), x, accumulate=True)
    else:
        sums.index_add_(0, labels, x)


def torch_lloyd(x: torch.Tensor, init: torch.Tensor, niter: int,
                early_stop_threshold: float, seed: int, spherical: bool,
                chunk_size: int,
                progress: ProgressLogger) -> Tuple[np.ndarray, float, int]:
    """faiss-style k-means in torch, on the device of ``x``: Lloyd steps,
    empty clusters re-seeded by splitting the largest, faiss's early stop.

    The points stay in their dtype (float16 halves the memory); distances
    and cluster sums are computed in fp32, chunk by chunk. Peak memory:
    :func:`fit_memory_plan`.

    Args:
        x (Tensor): (M, D) training points, float32, float16 or bfloat16.
        init (Tensor): (K, D) float32 initial centroids on the device of
            ``x``; they are updated in place (the fit's centroid storage).
        niter (int): iterations at most.
        early_stop_threshold (float): faiss's relative objective change.
        seed (int): seed of the re-seeding noise.
        spherical (bool): normalise centroids after each step.
        chunk_size (int): rows per distance chunk.
        progress (ProgressLogger): logs the objective.

    Returns:
        tuple: centroids, final objective, iterations run.
    """
    device = x.device
    num_clusters = init.shape[0]
    centroids = init
    sums = torch.empty_like(centroids)
    out = (torch.empty(x.shape[0], dtype=torch.int64, device=device),
           torch.empty(x.shape[0], dtype=torch.float32, device=device))
    gen = torch.Generator(device='cpu').manual_seed(seed)
    objective = float('inf')
    for it in range(niter):
        sums.zero_()
        labels, dists = nearest_centroids(
            x, centroids,
            torch.linalg.vector_norm(centroids, dim=1).square_(), chunk_size,
            sums, out)
        previous = objective
        objective = float(dists.sum(dtype=torch.float64))
        counts = torch.bincount(labels, minlength=num_clusters)
        nonempty = counts > 0
        # The new centroids are the means; empty ones are re-seeded below.
        sums /= counts.clamp_min(1)[:, None]
        centroids, sums = sums, centroids
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
            centroids /= torch.linalg.vector_norm(
                centroids, dim=1, keepdim=True).clamp_min_(1e-12)
        progress.log(f'k-means iteration {it + 1}/{niter}: objective '
                     f'{objective:.6g}')
        # faiss's early stop, checked after the update as faiss does.
        if it > 0 and previous - objective <= early_stop_threshold * previous:
            break
    return centroids.cpu().numpy(), objective, it + 1
