# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Seeded k-means: fit on a sample, assign every point in chunks.

Three backends give the same result semantics:

* ``'faiss-gpu'``: ``faiss.Kmeans(gpu=True)`` (all visible GPUs) when faiss
  sees GPUs; assignment on the current device of each process.
* ``'faiss-cpu'``: ``faiss.Kmeans`` on the CPU.
* ``'torch'``: Lloyd iterations in torch (CUDA when available, else CPU),
  used when faiss is not installed. It follows faiss's algorithm: random
  initial centroids drawn from the training points, empty clusters re-seeded
  by splitting the largest cluster. Seeded runs repeat bit for bit, on CUDA
  too. ``init='kmeans++'``: greedy k-means++ instead, on any backend.

The training sample (at most ``max_points_per_centroid * K`` points) and the
random initial centroids are drawn as faiss draws them, by
:func:`faiss_rand_perm`, with or without faiss installed. So with
``init='random'`` the faiss backends give the centroids of raw
``faiss.Kmeans(d, K, niter=..., seed=..., max_points_per_centroid=...)`` at
any N, and the torch backend starts from the same centroids. Every backend
stops early by faiss's rule (``early_stop_threshold``).

A fit logs its objective through the mmengine logger every
``log_interval_s`` seconds (faiss's own per-iteration lines included) and a
summary when it ends; a chunked assignment logs the rows done.
"""
import inspect
import time
from typing import Mapping, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log

from ..settings import as_bool, as_choice, as_float, as_int, check_keys
from ..utils.progress import (DEFAULT_INTERVAL_S, ProgressLogger,
                              faiss_progress, forward_c_stdout)
from .assign import assign_to_centroids
from .ingest import host_rows, upload_rows
from .preprocessing import Preprocessor
from .sampling import (faiss_rand_perm, fit_sample_indices, refuse_non_finite,
                       take_rows)
from .torch_kmeans import (kmeans_plus_plus, matmul_precision, torch_device,
                           torch_lloyd)

try:
    import faiss
except ImportError:  # pragma: no cover - exercised only without faiss
    faiss = None

BACKENDS = ('auto', 'faiss-gpu', 'faiss-cpu', 'torch')
SAMPLE_DTYPES = dict(
    float32=torch.float32, float16=torch.float16, bfloat16=torch.bfloat16)

# scikit-learn's and faiss's words for k-means settings, and what to write.
FOREIGN_KEYS = {
    'num_clusters': "the hook's num_clusters=K (one K for the hook, the "
    'head and the data preprocessor; tools/train.py --num-clusters K)',
    'n_clusters': "the hook's num_clusters=K",
    'k': "the hook's num_clusters=K",
    'max_iter': 'niter=... (Lloyd iterations)',
    'n_iter': 'niter=...',
    'random_state': 'seed=...',
    'tol': "early_stop_threshold=... (faiss's rule: the relative decrease "
    'of the objective, not the centres\' shift)',
    'gpu': "backend='faiss-gpu' (or 'auto')",
    'use_gpu': "backend='faiss-gpu' (or 'auto')",
    'n_init': 'nothing: one seeded run; vary seed= for restarts',
    'nredo': 'nothing: one seeded run; vary seed= for restarts',
    'verbose': 'log_interval_s=... (progress is logged through mmengine)',
}


def resolve_backend(backend: str = 'auto') -> str:
    """Pick the k-means backend.

    Args:
        backend (str): One of ``'auto'``, ``'faiss-gpu'``, ``'faiss-cpu'``,
            ``'torch'``. ``'auto'`` takes faiss-gpu when faiss has GPUs and
            CUDA is present; torch (on CUDA) when CUDA is present but this
            faiss has no GPU support; faiss-cpu without CUDA; and torch
            without faiss (docs/benchmarks.md compares them). The faiss
            backends need faiss >= 1.15 (its early stop).

    Returns:
        str: The concrete backend name.
    """
    if backend not in BACKENDS:
        raise ValueError(f'kmeans backend={backend!r} is unknown; '
                         f'use one of {BACKENDS}.')
    has_faiss_gpu = (
        faiss is not None and hasattr(faiss, 'get_num_gpus')
        and faiss.get_num_gpus() > 0 and torch.cuda.is_available())
    if backend == 'auto':
        if faiss is None or (torch.cuda.is_available() and not has_faiss_gpu):
            return 'torch'
        backend = 'faiss-gpu' if has_faiss_gpu else 'faiss-cpu'
    if backend.startswith('faiss') and faiss is None:
        raise ImportError(f'kmeans backend={backend!r} needs faiss: '
                          '`pip install faiss-cpu` (or faiss-gpu), or use '
                          "backend='torch'.")
    if backend == 'faiss-gpu' and not has_faiss_gpu:
        raise RuntimeError("kmeans backend='faiss-gpu' but faiss sees no GPU "
                           "or CUDA is unavailable; use backend='auto'.")
    if backend.startswith('faiss') and not hasattr(
            faiss.ClusteringParameters(), 'early_stop_threshold'):
        raise ImportError(
            f'kmeans backend={backend!r}: faiss {faiss.__version__} has no '
            'early stop, which every backend follows; it needs faiss >= '
            "1.15: `pip install -U faiss-cpu`, or use backend='torch'.")
    return backend


class KMeans:
    """Seeded k-means fitted on a sample and assigned in chunks.

    Peak memory is set by the training sample (at most
    ``max_points_per_centroid * K`` points) and ``chunk_size``, not by N: the
    input of :meth:`fit` and :meth:`assign` may be a ``np.memmap``.

    Args:
        num_clusters (int): K.
        niter (int): Lloyd iterations at most. Defaults to 20.
        early_stop_threshold (float): stop once an iteration lowers the
            objective by no more than this fraction of it (faiss's rule and
            default, 0: stop when it no longer decreases; negative: run all
            ``niter``). Defaults to 0.
        init (str): ``'random'`` (K distinct training points, drawn as
            faiss draws them on every backend, so the faiss backends equal
            raw faiss) or ``'kmeans++'`` (greedy k-means++ seeding
            on a seeded sub-sample of ``init_points_per_centroid * K``
            training points, a lower objective for a small start-up cost).
            Defaults to ``'random'``.
        init_points_per_centroid (int): size of the k-means++ seeding
            sub-sample, per centroid. Defaults to 4.
        seed (int): seed of the sample, the initial centroids and faiss.
            Defaults to 0.
        max_points_per_centroid (int): cap of the training sample, per
            centroid. Defaults to 256 (faiss's default).
        spherical (bool): normalise centroids after each iteration.
            Defaults to False.
        backend (str): see :func:`resolve_backend`. Defaults to ``'auto'``.
        chunk_size (int): rows per assignment chunk. Defaults to 65536.
        log_interval_s (float, optional): log the objective at most every
            this many seconds during a fit, and the rows done during a
            chunked assignment (0: every iteration; None: only the summary
            of each fit). Defaults to 5.
        sample_dtype (str): how the torch backend stores the fitting
            sample on its device: ``'float32'``, or ``'float16'`` /
            ``'bfloat16'`` for half the memory (distances and sums stay
            fp32; :func:`.torch_kmeans.fit_memory_plan`). faiss trains on
            float32 only. Defaults to ``'float32'``.
        allow_tf32 (bool): TF32 distance products for the torch backend on
            CUDA (faster, a slightly different objective:
            docs/benchmarks.md). Defaults to False.
    """

    def __init__(self,
                 num_clusters: int,
                 niter: int = 20,
                 early_stop_threshold: float = 0.0,
                 init: str = 'random',
                 init_points_per_centroid: int = 4,
                 seed: int = 0,
                 max_points_per_centroid: int = 256,
                 spherical: bool = False,
                 backend: str = 'auto',
                 chunk_size: int = 65536,
                 log_interval_s: Optional[float] = DEFAULT_INTERVAL_S,
                 sample_dtype: str = 'float32',
                 allow_tf32: bool = False):
        try:
            self.num_clusters = as_int(num_clusters, 'num_clusters', 2)
        except ValueError as e:
            raise ValueError(f'{e} k-means needs at least 2 clusters.') from e
        self.niter = as_int(niter, 'kmeans.niter', 1)
        self.early_stop_threshold = as_float(early_stop_threshold,
                                             'kmeans.early_stop_threshold')
        self.init = as_choice(init, 'kmeans.init', ('random', 'kmeans++'))
        self.init_points_per_centroid = as_int(
            init_points_per_centroid, 'kmeans.init_points_per_centroid', 1)
        # faiss's seed is a C int.
        self.seed = as_int(seed, 'kmeans.seed', -2**31, 2**31 - 1)
        self.max_points_per_centroid = as_int(
            max_points_per_centroid, 'kmeans.max_points_per_centroid', 1)
        self.spherical = as_bool(spherical, 'kmeans.spherical')
        self.backend = resolve_backend(backend)
        self.chunk_size = as_int(chunk_size, 'kmeans.chunk_size', 1)
        self.log_interval_s = None if log_interval_s is None else as_float(
            log_interval_s, 'kmeans.log_interval_s', 0)
        self.sample_dtype = as_choice(sample_dtype, 'kmeans.sample_dtype',
                                      tuple(SAMPLE_DTYPES))
        if self.sample_dtype != 'float32' and self.backend != 'torch':
            raise ValueError(
                f'kmeans.sample_dtype={self.sample_dtype!r} needs '
                f"backend='torch'; {self.backend} trains on float32 only. "
                "Set kmeans=dict(backend='torch', ...) or drop sample_dtype.")
        self.allow_tf32 = as_bool(allow_tf32, 'kmeans.allow_tf32')
        if self.allow_tf32 and (self.backend != 'torch'
                                or not torch.cuda.is_available()):
            raise ValueError(
                'kmeans.allow_tf32=True is a CUDA mode of the torch backend, '
                f'but this process runs backend={self.backend!r}'
                f'{"" if torch.cuda.is_available() else " without CUDA"}. '
                "Set kmeans=dict(backend='torch', ...) on a GPU, or drop "
                'allow_tf32.')
        self.centroids: Optional[np.ndarray] = None
        self.fit_objective: Optional[float] = None
        self.fit_size: Optional[int] = None
        self.fit_seconds: Optional[float] = None
        self.fit_iterations: Optional[int] = None

    @classmethod
    def from_config(cls,
                    num_clusters: int,
                    cfg: Optional[Mapping] = None) -> 'KMeans':
        """K-means from a config dict (the hook's ``kmeans=dict(...)``).

        Args:
            num_clusters (int): K, set once outside the dict.
            cfg (Mapping, optional): the other arguments of
                :class:`KMeans`; an unknown key (a typo, scikit-learn's or
                faiss's name) is an error naming it and the fix.

        Returns:
            KMeans: the configured k-means.
        """
        if cfg is not None and not isinstance(cfg, Mapping):
            raise TypeError(f'kmeans must be a dict; got {cfg!r}.')
        cfg = dict(cfg or {})
        accepted = [
            name for name in inspect.signature(cls.__init__).parameters
            if name not in ('self', 'num_clusters')
        ]
        check_keys(cfg, accepted, 'kmeans', FOREIGN_KEYS)
        return cls(num_clusters, **cfg)

    def params(self) -> dict:
        """The settings that determine the result (for fingerprints).

        Returns:
            dict: how sample and start are drawn, niter,
            early_stop_threshold, init (with its sub-sample size for
            k-means++), seed, max_points_per_centroid, spherical, and
            sample_dtype and allow_tf32 when not their defaults.
        """
        init = self.init
        if init == 'kmeans++':
            init = f'kmeans++/{self.init_points_per_centroid}'
        # Named only when not the default, so earlier caches still match.
        numerics = {}
        if self.sample_dtype != 'float32':
            numerics['sample_dtype'] = self.sample_dtype
        if self.allow_tf32:
            numerics['allow_tf32'] = True
        return dict(
            **numerics,
            draws='faiss-rand-perm',
            niter=self.niter,
            early_stop_threshold=self.early_stop_threshold,
            init=init,
            seed=self.seed,
            max_points_per_centroid=self.max_points_per_centroid,
            spherical=self.spherical)

    def check_size(self, num_points: int) -> None:
        """Raise a clear error when there are fewer points than clusters.

        Args:
            num_points (int): N.
        """
        if num_points < self.num_clusters:
            raise ValueError(
                f'k-means with num_clusters={self.num_clusters} needs at '
                f'least as many samples, but the dataset has {num_points}. '
                'Lower num_clusters (in the hook and the head) or use a '
                'larger dataset.')

    def fit(self,
            x: np.ndarray,
            preprocessor: Optional[Preprocessor] = None) -> 'KMeans':
        """Fit the centroids on a seeded sample of ``x``.

        The torch backend reads the sample chunk by chunk onto its device
        in its stored dtype and preprocesses it there, keeping it in
        ``sample_dtype``; the faiss backends take it to float32 on the host.

        Args:
            x (np.ndarray): (N, D) points, float16/float32, memmap allowed.
            preprocessor (Preprocessor, optional): fitted PCA / L2 applied
                to the sample first; None: the rows as they are.

        Returns:
            KMeans: self, with ``centroids`` (K, D) float32,
            ``fit_objective`` (sum of squared distances on the sample),
            ``fit_size``, ``fit_iterations`` and ``fit_seconds``.
        """
        self.check_size(x.shape[0])
        start = time.perf_counter()
        preprocessor = preprocessor or Preprocessor(l2_normalize=False)
        idx = fit_sample_indices(x.shape[0], self.num_clusters,
                                 self.max_points_per_centroid, self.seed)
        if self.backend == 'torch':
            sample = upload_rows(x, idx, preprocessor,
                                 SAMPLE_DTYPES[self.sample_dtype],
                                 torch.device(torch_device()), self.chunk_size,
                                 ProgressLogger(self.log_interval_s))
        else:
            sample = preprocessor(
                np.ascontiguousarray(x, dtype=np.float32) if idx is
                None else take_rows(x, idx, self.chunk_size))
        self.fit_size = sample.shape[0]
        (self.centroids, self.fit_objective,
         self.fit_iterations) = self.fit_sample(sample)
        self.fit_seconds = time.perf_counter() - start
        print_log(
            f'k-means fit K={self.num_clusters} on {self.fit_size} points '
            f'({self.backend}): {self.fit_iterations} iterations, objective '
            f'{self.fit_objective:.6g}, {self.fit_seconds:.1f}s.',
            logger='current')
        return self

    def fit_sample(
        self, sample: Union[np.ndarray,
                            torch.Tensor]) -> Tuple[np.ndarray, float, int]:
        """Run the backend's k-means on an already drawn sample.

        Args:
            sample (np.ndarray | Tensor): (M, D) points: contiguous float32
                in numpy, or (torch backend) a tensor on its device.

        Returns:
            tuple: centroids (K, D) float32, the final objective and the
            number of iterations run.
        """
        if isinstance(sample, np.ndarray):
            refuse_non_finite(sample, 0, 'k-means fit sample')
            if self.backend == 'torch':
                sample = torch.from_numpy(sample).to(
                    torch_device(), SAMPLE_DTYPES[self.sample_dtype])
        init = None
        if self.init == 'kmeans++':
            seeding = fit_sample_indices(
                len(sample), self.num_clusters, self.init_points_per_centroid,
                self.seed)
            init = kmeans_plus_plus(
                host_rows(sample, seeding), self.num_clusters, self.seed)
        progress = ProgressLogger(self.log_interval_s)
        if self.backend == 'torch':
            if init is None:  # faiss's draw: rand_perm(M, seed + 1)
                start = sample[torch.from_numpy(
                    faiss_rand_perm(
                        len(sample), self.num_clusters,
                        self.seed + 1)).to(sample.device)].float()
            else:
                start = torch.from_numpy(init).to(sample.device)
            with matmul_precision(self.allow_tf32):
                return torch_lloyd(sample, start, self.niter,
                                   self.early_stop_threshold, self.seed,
                                   self.spherical, self.chunk_size, progress)
        km = faiss.Kmeans(
            sample.shape[1],
            self.num_clusters,
            niter=self.niter,
            early_stop_threshold=self.early_stop_threshold,
            seed=self.seed,
            spherical=self.spherical,
            max_points_per_centroid=self.max_points_per_centroid,
            gpu=self.backend == 'faiss-gpu',
            verbose=self.log_interval_s is not None)
        if self.log_interval_s is None:
            km.train(sample, init_centroids=init)
        else:
            with forward_c_stdout(faiss_progress(progress, self.niter)):
                km.train(sample, init_centroids=init)
        return (np.ascontiguousarray(km.centroids, dtype=np.float32),
                float(km.obj[-1]), len(km.obj))

    def assign(
        self,
        x: np.ndarray,
        preprocessor: Optional[Preprocessor] = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Nearest centroid of every row of ``x``, in chunks.

        Args:
            x (np.ndarray): (N, D) points, memmap allowed.
            preprocessor (Preprocessor, optional): fitted PCA / L2 applied
                to each chunk first; None: the rows as they are.

        Returns:
            tuple: labels (N,) int64 and squared distances (N,) float32.
        """
        if self.centroids is None:
            raise RuntimeError('KMeans.assign() called before fit().')
        return assign_to_centroids(x, self.centroids, self.backend,
                                   self.chunk_size, self.log_interval_s,
                                   preprocessor, self.allow_tf32)
