# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Peak memory of clustering N synthetic features, measured from outside.

Two ways, each in its own child process whose peak RSS the parent reads
with ``os.wait4``:

* ``plugin``: the hook's path: features written chunk by chunk to the
  on-disk feature store, k-means fitted on the seeded sample
  (max_points_per_centroid x K), every sample assigned in chunks
  (``cluster_by_index``).
* ``all-in-memory``: every feature in one array (as mmselfsup's
  DeepClusterHook and VISSL's single-file dumps), ``faiss.Kmeans`` trained
  on it and all points searched at once.

Prints peak RSS per N and method, the growth ratio between the largest and
the smallest N, and the plugin / all-in-memory ratio.

Usage:
    python tools/benchmarks/memory.py --sizes 200000 2000000 --d 256 --k 1000
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile

import numpy as np

CHUNK = 65536


def child_plugin(n: int, d: int, k: int, niter: int, workdir: str) -> None:
    from common import synthetic_chunk

    from clusterfit_plugin.clustering import (FeatureStore, KMeans,
                                              Preprocessor, iter_chunks)
    from clusterfit_plugin.engine.dist_clustering import cluster_by_index
    store = FeatureStore(
        n,
        path=osp.join(workdir, 'features.npy'),
        key='bench',
        flush_every=CHUNK)
    for sl in iter_chunks(n, CHUNK):
        store.append(synthetic_chunk(sl.start, sl.stop, d))
    features = store.finish()
    km = KMeans(k, niter=niter, seed=0, backend='faiss-cpu')
    labels, _ = cluster_by_index(features, np.arange(n), n, km, Preprocessor())
    assert labels.min() >= 0
    store.remove()


def child_in_memory(n: int, d: int, k: int, niter: int, workdir: str) -> None:
    import faiss
    from common import synthetic_chunk

    import clusterfit_plugin.engine.dist_clustering  # noqa: F401 same imports
    from clusterfit_plugin.clustering import iter_chunks
    x = np.empty((n, d), dtype=np.float32)
    for sl in iter_chunks(n, CHUNK):
        x[sl] = synthetic_chunk(sl.start, sl.stop, d)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    km = faiss.Kmeans(d, k, niter=niter, seed=0)
    km.train(x)
    _, labels = km.index.search(x, 1)
    assert labels.min() >= 0


CHILDREN = {'plugin': child_plugin, 'all-in-memory': child_in_memory}


def peak_rss_mb(method: str, n: int, args) -> float:
    """Run one child and return its peak RSS in MiB (from ``wait4``)."""
    with tempfile.TemporaryDirectory(dir=args.tmp) as workdir:
        # The child gets the parent's -W options (e.g. -W ignore).
        proc = subprocess.Popen([
            sys.executable, *[f'-W{w}' for w in sys.warnoptions], __file__,
            '--child', method, '--n',
            str(n), '--d',
            str(args.d), '--k',
            str(args.k), '--niter',
            str(args.niter), '--workdir', workdir
        ])
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(f'{method} N={n} failed ({proc.returncode})')
    return usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--sizes', type=int, nargs='+', default=[200000, 2000000])
    parser.add_argument('--d', type=int, default=256)
    parser.add_argument('--k', type=int, default=1000)
    parser.add_argument('--niter', type=int, default=10)
    parser.add_argument(
        '--tmp', default=None, help='where the plugin writes its feature file')
    parser.add_argument('--child', choices=list(CHILDREN))
    parser.add_argument('--n', type=int)
    parser.add_argument('--workdir')
    args = parser.parse_args()
    if args.child:
        CHILDREN[args.child](args.n, args.d, args.k, args.niter, args.workdir)
        return
    print(f'D={args.d} K={args.k} niter={args.niter}, float32 features; '
          f'sample cap 256 x K = {256 * args.k} points')
    rss = {m: {} for m in CHILDREN}
    for n in args.sizes:
        for method in CHILDREN:
            rss[method][n] = peak_rss_mb(method, n, args)
            print(
                f'  N={n:>9}  {method:<14} peak RSS {rss[method][n]:8.0f} '
                f'MiB',
                flush=True)
    lo, hi = min(args.sizes), max(args.sizes)
    print(f'{"method":<14}' + ''.join(f'{f"N={n}":>14}' for n in args.sizes) +
          f'{f"N={hi}/N={lo}":>22}')
    for method in CHILDREN:
        print(f'{method:<14}' + ''.join(f'{rss[method][n]:14.0f}'
                                        for n in args.sizes) +
              f'{rss[method][hi] / rss[method][lo]:22.2f}')
    print('plugin / all-in-memory: ' +
          ', '.join(f'N={n}: {rss["plugin"][n] / rss["all-in-memory"][n]:.2f}'
                    for n in args.sizes))


if __name__ == '__main__':
    main()
