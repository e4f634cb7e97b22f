# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""k-means: the plugin vs raw faiss.Kmeans vs scikit-learn KMeans.

Same data (a synthetic Gaussian mixture), same K and at most ``--niter``
iterations (faiss and the plugin stop early by faiss's rule, scikit-learn by
its own; the iterations run are printed), fit + assignment of all N points
timed for each; the objective (sum of squared distances of all N points)
is computed the same way for all. Each time is the best of ``--repeats``
rounds, each round running every method once in turn (single runs vary by
about +-0.5 s on a 2-core machine). Prints time and objective ratios
against faiss and scikit-learn measured in the same run.

Usage:
    python tools/benchmarks/kmeans.py --n 100000 --d 256 --k 1000
    python tools/benchmarks/kmeans.py --n 300000 --repeats 3 \
        --methods faiss plugin-random
    # the torch backend (CUDA when present) beside faiss-cpu:
    python tools/benchmarks/kmeans.py --repeats 2 --methods faiss \
        plugin-random plugin-torch-random plugin-torch-kmeans++ scikit-learn
"""
import argparse
import time

import faiss
import numpy as np
import torch
from common import objective, synthetic_chunk
from sklearn.cluster import KMeans as SKKMeans

from clusterfit_plugin.clustering import KMeans


def run_faiss(x, args):
    raw = faiss.Kmeans(
        args.d,
        args.k,
        niter=args.niter,
        seed=args.seed,
        early_stop_threshold=args.early_stop_threshold)
    raw.train(x)
    raw.index.search(x, 1)
    return raw.centroids, len(raw.obj)


def run_plugin(init, backend='faiss-cpu'):

    def run(x, args):
        km = KMeans(
            args.k,
            niter=args.niter,
            seed=args.seed,
            init=init,
            init_points_per_centroid=args.init_points_per_centroid,
            early_stop_threshold=args.early_stop_threshold,
            backend=backend)
        km.fit(x)
        km.assign(x)
        return km.centroids, km.fit_iterations

    return run


def run_sklearn(x, args):
    sk = SKKMeans(
        args.k, n_init=1, max_iter=args.niter, random_state=args.seed).fit(x)
    sk.predict(x)
    return sk.cluster_centers_, sk.n_iter_


METHODS = {
    'faiss': run_faiss,
    'plugin-random': run_plugin('random'),
    'plugin-kmeans++': run_plugin('kmeans++'),
    'plugin-torch-random': run_plugin('random', 'torch'),
    'plugin-torch-kmeans++': run_plugin('kmeans++', 'torch'),
    'scikit-learn': run_sklearn,
}


def device_name() -> str:
    if torch.cuda.is_available():
        return f'CUDA ({torch.cuda.get_device_name()})'
    return f'CPU ({torch.get_num_threads()} threads)'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=100000)
    parser.add_argument('--d', type=int, default=256)
    parser.add_argument('--k', type=int, default=1000)
    parser.add_argument('--niter', type=int, default=20)
    parser.add_argument(
        '--early-stop-threshold',
        type=float,
        default=0.0,
        help='faiss and the plugin (faiss 1.15 default 0: stop once the '
        'objective no longer decreases; -1: always --niter)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--repeats', type=int, default=1)
    parser.add_argument(
        '--init-points-per-centroid',
        type=int,
        default=4,
        help='k-means++ seeding sub-sample of plugin-kmeans++')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=['faiss', 'plugin-random', 'plugin-kmeans++', 'scikit-learn'],
        choices=list(METHODS))
    args = parser.parse_args()
    x = synthetic_chunk(0, args.n, args.d)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    print(f'N={args.n} D={args.d} K={args.k} niter={args.niter}, '
          f'faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, '
          f'best of {args.repeats}; torch backend on {device_name()}')

    # Rounds in turn (every method once per round), so that a slow spell of
    # the machine does not fall on one method only.
    times = dict.fromkeys(args.methods, float('inf'))
    objs, iters = {}, {}
    for _ in range(args.repeats):
        for method in args.methods:
            start = time.perf_counter()
            centroids, iters[method] = METHODS[method](x, args)
            times[method] = min(times[method], time.perf_counter() - start)
            objs[method] = objective(x, centroids)

    print(f'{"method":<22}{"iters":>6}{"time s":>9}{"/faiss":>9}'
          f'{"/sklearn":>10}{"objective":>13}{"/faiss":>9}{"/sklearn":>10}')
    for name in times:
        row = f'{name:<22}{iters[name]:6d}{times[name]:9.2f}'
        row += (f'{times[name] / times["faiss"]:9.3f}'
                if 'faiss' in times else f'{"-":>9}')
        row += (f'{times[name] / times["scikit-learn"]:10.3f}'
                if 'scikit-learn' in times else f'{"-":>10}')
        row += f'{objs[name]:13.2f}'
        row += (f'{objs[name] / objs["faiss"]:9.4f}'
                if 'faiss' in objs else f'{"-":>9}')
        row += (f'{objs[name] / objs["scikit-learn"]:10.4f}'
                if 'scikit-learn' in objs else f'{"-":>10}')
        print(row)


if __name__ == '__main__':
    main()
