# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Every row to its nearest centroid, chunk by chunk, on any backend.

The rows are read ahead by a thread (:func:`.ingest.prefetch`). For the
torch backend they go to the device in their stored dtype and are
preprocessed there; for the faiss backends, which search float32 rows from
the host, they are preprocessed in numpy.
"""
import functools
from typing import Optional, Tuple

import numpy as np
import torch

from ..utils.progress import DEFAULT_INTERVAL_S, ProgressLogger
from .ingest import device_chunks, prefetch
from .preprocessing import Preprocessor
from .sampling import iter_chunks, refuse_non_finite
from .torch_kmeans import matmul_precision, nearest_centroids, torch_device

try:
    import faiss
except ImportError:  # pragma: no cover - exercised only without faiss
    faiss = None


@functools.lru_cache(maxsize=None)
def faiss_gpu_resources(device: int):
    """One ``StandardGpuResources`` per device and process: faiss reserves
    its scratch memory once, not on every assignment call."""
    return faiss.StandardGpuResources()


def assign_to_centroids(
        x: np.ndarray,
        centroids: np.ndarray,
        backend: str,
        chunk_size: int,
        log_interval_s: Optional[float] = DEFAULT_INTERVAL_S,
        preprocessor: Optional[Preprocessor] = None,
        allow_tf32: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Nearest centroid (squared L2) of every (preprocessed) row of ``x``.

    The GPU backends search on this process's current CUDA device, so each
    rank of a distributed job assigns its shard on its own GPU.

    Args:
        x (np.ndarray): (N, D) points, memmap allowed; one chunk at a time
            is read, converted to float32 and preprocessed.
        centroids (np.ndarray): (K, D') float32 centroids.
        backend (str): a concrete backend from
            :func:`.kmeans.resolve_backend`.
        chunk_size (int): rows per chunk.
        log_interval_s (float, optional): log the rows done at most every
            this many seconds; None: never. Defaults to 5.
        preprocessor (Preprocessor, optional): fitted PCA / L2 applied to
            each chunk first; None: the rows as they are.
        allow_tf32 (bool): TF32 distance products (torch on CUDA).
            Defaults to False.

    Returns:
        tuple: labels (N,) int64 and squared distances (N,) float32.
    """
    n = x.shape[0]
    progress = ProgressLogger(log_interval_s)
    preprocessor = preprocessor or Preprocessor(l2_normalize=False)
    labels = np.empty(n, dtype=np.int64)
    dists = np.empty(n, dtype=np.float32)
    centroids = np.ascontiguousarray(centroids, dtype=np.float32)
    if backend == 'torch':
        device = torch.device(torch_device())
        ct = torch.from_numpy(centroids).to(device)
        csq = torch.linalg.vector_norm(ct, dim=1).square_()
        with matmul_precision(allow_tf32):
            for pos, xc in device_chunks(x, preprocessor, device, chunk_size,
                                         'k-means assignment'):
                sl = slice(int(pos[0]), int(pos[-1]) + 1)
                lab, dist = nearest_centroids(xc, ct, csq, chunk_size)
                labels[sl] = lab.cpu().numpy()
                dists[sl] = dist.cpu().numpy()
                progress.log(f'assigned {sl.stop}/{n} points to centroids')
        return labels, dists
    index = faiss.IndexFlatL2(centroids.shape[1])
    if backend == 'faiss-gpu':
        device = torch.cuda.current_device()
        index = faiss.index_cpu_to_gpu(
            faiss_gpu_resources(device), device, index)
    index.add(centroids)
    for sl, rows in prefetch(lambda sl: preprocessor(x[sl]),
                             list(iter_chunks(n, chunk_size))):
        refuse_non_finite(rows, sl.start, 'k-means assignment')
        dist, lab = index.search(rows, 1)
        labels[sl] = lab[:, 0]
        dists[sl] = dist[:, 0]
        progress.log(f'assigned {sl.stop}/{n} points to centroids')
    return labels, dists
