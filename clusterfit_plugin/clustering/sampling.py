# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""How k-means reads its points: faiss's seeded sample, drawn without faiss,
and rows read in chunks."""
from typing import Iterator, Optional, Union

import numpy as np
import torch


def faiss_rand_perm(n: int, m: int, seed: int) -> np.ndarray:
    """The first ``m`` entries of faiss's ``rand_perm(n, seed)``.

    faiss draws its k-means training sample and its random initial centroids
    with this permutation: a Fisher-Yates shuffle driven by ``std::mt19937``
    seeded with ``seed``. numpy's MT19937 in the legacy seeding of
    ``RandomState`` is the same generator, so this gives faiss's draws
    without faiss; only the first ``m`` steps of the shuffle are run. It
    holds one int32 per point while it runs, as faiss's own does (4 bytes
    against the 512 or more of a feature row).

    Args:
        n (int): length of the permutation.
        m (int): how many leading entries to return (``m <= n``).
        seed (int): faiss's seed (taken modulo 2**32, as faiss does).

    Returns:
        np.ndarray: (m,) int64 distinct indices in ``[0, n)``.
    """
    bitgen = np.random.MT19937()
    bitgen.state = dict(
        bit_generator='MT19937',
        state=np.random.RandomState(seed %
                                    2**32).get_state(legacy=False)['state'])
    steps = np.arange(m, dtype=np.uint64)
    # faiss's rand_int(max) is mt() % max; step i swaps i with i + draw.
    swap_with = (steps + bitgen.random_raw(m) % (np.uint64(n) - steps))
    perm = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    view = memoryview(perm)  # Python-int item access: fast in the loop
    for i, j in enumerate(swap_with.tolist()):
        view[i], view[j] = view[j], view[i]
    return perm[:m].astype(np.int64)


def fit_sample_indices(num_points: int, num_clusters: int,
                       max_points_per_centroid: int,
                       seed: int) -> Optional[np.ndarray]:
    """Indices of the seeded training sample, or None to use all points.

    The sample is the one ``faiss.Kmeans`` itself trains on, in its order:
    the first ``max_points_per_centroid * K`` entries of
    :func:`faiss_rand_perm`.

    Args:
        num_points (int): N, the number of points.
        num_clusters (int): K.
        max_points_per_centroid (int): the sample holds at most this many
            points per centroid.
        seed (int): seed of the sample.

    Returns:
        np.ndarray | None: int64 indices in faiss's order, or None when N
        fits the cap.
    """
    cap = max_points_per_centroid * num_clusters
    if num_points <= cap:
        return None
    return faiss_rand_perm(num_points, cap, seed)


def take_rows(x: np.ndarray, indices: np.ndarray,
              chunk_size: int) -> np.ndarray:
    """``x[indices]`` as float32, read in index order chunk by chunk.

    Reading sorted rows keeps a memory-mapped ``x`` to forward reads, and
    the float32 copy is the only full-size array made.

    Args:
        x (np.ndarray): (N, D) rows, memmap allowed.
        indices (np.ndarray): (M,) row indices in the wanted output order.
        chunk_size (int): rows read at a time.

    Returns:
        np.ndarray: (M, D) contiguous float32.
    """
    out = np.empty((len(indices), x.shape[1]), dtype=np.float32)
    order = np.argsort(indices, kind='stable')
    for sl in iter_chunks(len(order), chunk_size):
        out[order[sl]] = x[indices[order[sl]]]
    return out


def iter_chunks(num: int, chunk_size: int) -> Iterator[slice]:
    """Yield consecutive slices of at most ``chunk_size`` over ``range(num)``.

    Args:
        num (int): total length.
        chunk_size (int): the largest slice.

    Returns:
        Iterator[slice]: the slices, in order.
    """
    for start in range(0, num, chunk_size):
        yield slice(start, min(start + chunk_size, num))


def refuse_non_finite(rows: Union[np.ndarray, torch.Tensor],
                      offset: Union[int, np.ndarray], what: str) -> None:
    """Raise when ``rows`` hold NaN or inf: no backend gives them a
    meaningful cluster, and torch's would silently put them in one.

    Args:
        rows (np.ndarray | Tensor): (n, D) points, on any device.
        offset (int | np.ndarray): the index of the first row, or the (n,)
            indices of all rows, for the message.
        what (str): the step, for the message.
    """
    if isinstance(rows, torch.Tensor):
        # A row is finite when its norm is: one float per row, no (n, D)
        # temporaries on the device (a finite row whose float32 norm
        # overflows has no float32 distance either).
        finite = torch.isfinite(torch.linalg.vector_norm(rows, dim=1))
        if bool(finite.all()):
            return
        bad = ~finite.cpu().numpy()
    else:
        bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        where = np.flatnonzero(bad)
        ids = (
            offset +
            where if np.isscalar(offset) else np.asarray(offset)[where])
        raise ValueError(
            f'{what}: {int(bad.sum())} row(s) hold NaN/inf (rows '
            f'{ids[:5].tolist()}); '
            'they would become labels. Remove them or fix what produced '
            'them (the source, the stored features).')
