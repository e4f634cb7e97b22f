# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Paper-scale clustering: the hook's path on features of ImageNet-1k's shape.

1. Synthetic clustered features (a Gaussian mixture with ``--modes``
   components), N x D, are written chunk by chunk to the on-disk
   :class:`FeatureStore` in float16, as the hook stores them
   (``feature_dtype='float16'``). They are generated with torch, on the GPU
   when there is one; any chunking gives the same rows.
2. The plugin's ``cluster_by_index`` (seeded fitting sample of at most
   ``max_points_per_centroid x K`` rows, k-means fit, chunked assignment of
   all N, as in the hook) runs with at most ``--niter`` iterations and the
   hook's early stop (faiss's rule), once per ``--sample-dtypes`` entry
   (``kmeans.sample_dtype``: the fitting sample kept in float32 or float16
   on the device) and, with ``--tf32``, once more with
   ``kmeans.allow_tf32=True``. Timed: the fit (``FitResult.fit_seconds``)
   and the whole call; with ``--time-assignment`` also the assignment of
   all N on its own. Beside the peak GPU memory, the plan of
   :func:`fit_memory_plan` for the run.
3. Reference, in the same run: a bare torch Lloyd loop (no plugin code)
   from the same sample and the same initial centroids, for as many
   iterations. Reported: the objective of both over all N (computed the
   same way) and the share of samples given the same label.
4. Throughput baseline, in the same run: one plain fp32 matrix product of
   the assignment's shape (chunk x D times D x K), and the same with TF32
   allowed. The k-means' achieved TFLOP/s (2 N D K per iteration, the
   distance products) is printed against both.

Peak host memory is the process's peak RSS (``getrusage``) after each
phase; peak GPU memory is ``torch.cuda.max_memory_allocated``, reset before
each phase.

Usage:
    # ImageNet-1k's shape, K=16,000 (a GPU machine; about 5 GB on disk):
    python tools/benchmarks/paper_scale.py --n 1281167 --d 2048 --k 16000
    # the documented scaled size for a 2-core CPU machine:
    python tools/benchmarks/paper_scale.py --n 100000 --d 256 --k 1000 \
        --backend faiss-cpu
"""
import argparse
import os.path as osp
import resource
import tempfile
import time
from typing import Tuple

import numpy as np
import torch

from clusterfit_plugin.clustering import (FeatureStore, KMeans, Preprocessor,
                                          assign_to_centroids, faiss_rand_perm,
                                          fit_sample_indices, iter_chunks,
                                          take_rows)
from clusterfit_plugin.clustering.torch_kmeans import fit_memory_plan
from clusterfit_plugin.engine.dist_clustering import cluster_by_index


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=1281167, help='N samples')
    parser.add_argument('--d', type=int, default=2048, help='feature dim')
    parser.add_argument('--k', type=int, default=16000, help='clusters')
    parser.add_argument('--niter', type=int, default=50)
    parser.add_argument(
        '--modes', type=int, default=20000, help='mixture components')
    parser.add_argument(
        '--backend',
        default='torch',
        help="the plugin's k-means backend (torch runs on CUDA when "
        'present)')
    parser.add_argument('--chunk-size', type=int, default=65536)
    parser.add_argument(
        '--tf32',
        action='store_true',
        help='also run the plugin with TF32 distance products '
        '(kmeans=dict(allow_tf32=True)) on the last sample dtype; CUDA only')
    parser.add_argument(
        '--sample-dtypes',
        nargs='+',
        default=['float32', 'float16'],
        help="the fitting sample's dtypes to run (kmeans.sample_dtype; "
        'other than float32 needs the torch backend)')
    parser.add_argument(
        '--time-assignment',
        action='store_true',
        help='time the assignment of all N again on its own')
    parser.add_argument(
        '--work-dir',
        help='where the feature file goes (default: a '
        'temporary folder, removed at the end)')
    return parser.parse_args()


def device() -> str:
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (GB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def reset_gpu_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def gpu_peak_gb() -> float:
    if not torch.cuda.is_available():
        return float('nan')
    return torch.cuda.max_memory_allocated() / 2**30


def synthetic_rows(start: int, stop: int, centers: torch.Tensor,
                   seed: int) -> np.ndarray:
    """Rows ``start:stop`` of the mixture as float16 (chunking-free)."""
    gen = torch.Generator(device=centers.device)
    gen.manual_seed(seed * 1000003 + start)
    modes = torch.arange(start, stop, device=centers.device) * 7919
    modes %= centers.shape[0]
    noise = torch.randn(
        stop - start, centers.shape[1], generator=gen, device=centers.device)
    rows = centers[modes] + noise.mul_(0.6)
    return rows.half().cpu().numpy()


def write_features(path: str, args) -> np.ndarray:
    """The mixture's N x D rows in an on-disk float16 store."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(args.modes, args.d, generator=gen).to(device())
    store = FeatureStore(
        args.n,
        dtype='float16',
        path=path,
        key=f'paper-scale-{args.n}-{args.d}-{args.modes}',
        flush_every=args.chunk_size)
    # A complete file of the same key (an earlier run's --work-dir) is
    # resumed as the hook resumes its store: only missing rows are made.
    for sl in iter_chunks(args.n, args.chunk_size):
        if sl.start >= store.rows_done:
            store.append(synthetic_rows(sl.start, sl.stop, centers, 0))
    return store.finish()


def l2_rows(x: np.ndarray) -> torch.Tensor:
    """Rows as float32 on the device, L2-normalised (the hook's default
    preprocessing, written here independently of the plugin)."""
    x = torch.from_numpy(np.asarray(x, dtype=np.float32)).to(device())
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def objective(features, centroids: np.ndarray, chunk_size: int) -> float:
    """Sum over all N of the squared distance of each L2-normalised row to
    its nearest centroid, in float64 (the same function for every
    method)."""
    c = torch.from_numpy(centroids).to(device())
    csq = (c * c).sum(1)
    total = 0.0
    for sl in iter_chunks(len(features), chunk_size):
        x = l2_rows(features[sl])
        d = csq[None] - 2.0 * (x @ c.T)
        dmin = d.min(1).values + (x * x).sum(1)
        total += float(dmin.clamp_min(0).double().sum())
    return total


def bare_lloyd(sample: np.ndarray, init: np.ndarray, niter: int,
               chunk_size: int) -> Tuple[np.ndarray, int]:
    """Plain Lloyd iterations in torch on the L2-normalised sample, written
    independently of the plugin. An empty cluster takes half of the largest
    one, whose centroid is split in two by +-1/1024 per coordinate
    (faiss's rule, without its random choice of the cluster to split).

    Returns:
        tuple: centroids (K, D) and the number of splits made.
    """
    x = l2_rows(sample)
    c = torch.from_numpy(init).to(device()).clone()
    k = c.shape[0]
    eps = torch.full((c.shape[1], ), 1.0 / 1024, device=c.device)
    eps[1::2] *= -1
    splits = 0
    for _ in range(niter):
        csq = (c * c).sum(1)
        labels = torch.cat([(csq[None] - 2.0 * (x[sl] @ c.T)).argmin(1)
                            for sl in iter_chunks(len(x), chunk_size)])
        sums = torch.zeros_like(c).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k)
        keep = counts > 0
        c[keep] = sums[keep] / counts[keep, None].float()
        for empty in torch.nonzero(~keep).flatten().tolist():
            splits += 1
            big = int(counts.argmax())
            c[empty] = c[big] * (1 + eps)
            c[big] = c[big] * (1 - eps)
            counts[empty] = counts[big] // 2
            counts[big] -= counts[empty]
    sync()
    return c.cpu().numpy(), splits


def matmul_tflops(rows: int, d: int, k: int, tf32: bool) -> float:
    """Achieved TFLOP/s of one (rows x d) @ (d x k) fp32 product."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(rows, d, device=device())
    b = torch.randn(d, k, device=device())
    for _ in range(2):
        a @ b
    sync()
    reps = 10 if device() == 'cuda' else 2
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync()
    seconds = (time.perf_counter() - t0) / reps
    torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * rows * d * k / seconds / 1e12


def run_plugin(features, args, sample_dtype: str, tf32: bool) -> dict:
    """``cluster_by_index`` once, then (``--time-assignment``) the
    assignment of all N alone."""
    km = KMeans(
        args.k,
        niter=args.niter,
        seed=0,
        backend=args.backend,
        chunk_size=args.chunk_size,
        sample_dtype=sample_dtype,
        allow_tf32=tf32)
    reset_gpu_peak()
    sync()
    t0 = time.perf_counter()
    preprocessor = Preprocessor()  # the hook's default: L2 rows
    labels, fit = cluster_by_index(features, np.arange(args.n), args.n, km,
                                   preprocessor)
    sync()
    total = time.perf_counter() - t0
    gpu_gb = gpu_peak_gb()
    assign_s = float('nan')
    if args.time_assignment:
        t0 = time.perf_counter()
        assign_to_centroids(features, fit.centroids, km.backend,
                            args.chunk_size, None, fit.preprocessor, tf32)
        sync()
        assign_s = time.perf_counter() - t0
    return dict(
        labels=labels,
        centroids=fit.centroids,
        fit_s=fit.fit_seconds,
        fit_size=fit.fit_size,
        max_points_per_centroid=km.max_points_per_centroid,
        iterations=fit.fit_iterations,
        total_s=total,
        assign_s=assign_s,
        gpu_gb=gpu_gb,
        plan_gb=fit_memory_plan(fit.fit_size, args.d, args.k, args.chunk_size,
                                getattr(torch, sample_dtype)) / 2**30,
        rss_gb=peak_rss_gb(),
        backend=km.backend)


def main():
    args = parse_args()
    print(
        f'N={args.n} D={args.d} K={args.k} niter={args.niter} on '
        f'{device()}' +
        (f' ({torch.cuda.get_device_name()})' if device() == 'cuda' else '') +
        f', torch {torch.__version__}')
    tmp = None if args.work_dir else tempfile.TemporaryDirectory()
    work_dir = args.work_dir or tmp.name
    t0 = time.perf_counter()
    features = write_features(osp.join(work_dir, 'features.npy'), args)
    print(f'features written: {args.n} x {args.d} float16 on disk, '
          f'{time.perf_counter() - t0:.1f} s, peak RSS {peak_rss_gb():.1f} '
          'GB')

    runs = [(f'plugin, {dtype} sample',
             run_plugin(features, args, dtype, tf32=False))
            for dtype in args.sample_dtypes]
    if args.tf32 and device() == 'cuda':
        dtype = args.sample_dtypes[-1]
        runs.append((f'plugin, {dtype} sample, TF32',
                     run_plugin(features, args, dtype, tf32=True)))
    plugin = runs[0][1]

    # The reference: the same sample and start, its own Lloyd loop.
    idx = fit_sample_indices(args.n, args.k, plugin['max_points_per_centroid'],
                             0)
    sample = (
        np.asarray(features, dtype=np.float32) if idx is None else take_rows(
            features, idx, args.chunk_size))
    init = l2_rows(sample[faiss_rand_perm(len(sample), args.k,
                                          1)]).cpu().numpy()
    reset_gpu_peak()
    t0 = time.perf_counter()
    ref_centroids, splits = bare_lloyd(sample, init, plugin['iterations'],
                                       args.chunk_size)
    ref_s = time.perf_counter() - t0
    ref_gpu = gpu_peak_gb()
    del sample
    ref_obj = objective(features, ref_centroids, args.chunk_size)
    ref_labels = np.concatenate([
        assign_to_centroids(
            l2_rows(features[sl]).cpu().numpy(), ref_centroids, 'torch',
            args.chunk_size, None)[0]
        for sl in iter_chunks(args.n, args.chunk_size)
    ])

    flops = 2.0 * plugin['fit_size'] * args.d * args.k * plugin['iterations']
    fp32_peak = matmul_tflops(args.chunk_size, args.d, args.k, tf32=False)
    tf32_peak = (
        matmul_tflops(args.chunk_size, args.d, args.k, tf32=True)
        if device() == 'cuda' else float('nan'))
    print(f'\nmatrix product {args.chunk_size}x{args.d} @ {args.d}x{args.k}'
          f' on this device: fp32 {fp32_peak:.3g} TFLOP/s, TF32 '
          f'{tf32_peak:.3g} TFLOP/s')
    print('\n| run | fit (s) | assign all N (s) | cluster_by_index (s) | '
          'k-means TFLOP/s | / fp32 product | / TF32 product | peak GPU (GiB)'
          ' | plan (GiB) | peak RSS (GB) | objective / reference | same label'
          ' as reference |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | '
          '---: | ---: | ---: |')
    for name, r in runs:
        tflops = flops / r['fit_s'] / 1e12
        obj = objective(features, r['centroids'], args.chunk_size)
        agree = float((r['labels'] == ref_labels).mean())
        print(f"| {name} ({r['backend']}, {r['iterations']} it on "
              f"{r['fit_size']}) | {r['fit_s']:.1f} | {r['assign_s']:.1f} | "
              f"{r['total_s']:.1f} | {tflops:.3g} | {tflops / fp32_peak:.2f}"
              f" | {tflops / tf32_peak:.2f} | {r['gpu_gb']:.2f} | "
              f"{r['plan_gb']:.2f} | {r['rss_gb']:.1f} | {obj / ref_obj:.5f}"
              f' | {agree:.4f} |')
    print(f'| bare torch Lloyd (reference, fit only; {splits} empty-cluster '
          f'splits) | {ref_s:.1f} | - | - | '
          f'{flops / ref_s / 1e12:.3g} | - | - | {ref_gpu:.2f} | - | '
          f'{peak_rss_gb():.1f} | 1 | 1 |')
    del features
    if tmp is not None:
        tmp.cleanup()


if __name__ == '__main__':
    main()
