# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The linear probe's fit: scikit-learn against the plugin's torch L-BFGS.

On synthetic clustered features (N x D, ``--classes`` Gaussian modes), in
the same run: ``linear_probe(classifier='sklearn')`` (what the evaluation
runs without CUDA: ``LogisticRegression`` on one thread) and
``linear_probe(classifier='torch')`` (the same objective in torch: float64
with torch's threads on the CPU, float32 on CUDA). Prints each one's
seconds, top-1, and the ratio.

Usage:
    python tools/benchmarks/linear_probe.py --n 20000 --d 512 --classes 100
"""
import argparse
import time

import numpy as np
import torch

from clusterfit_plugin.evaluation.frozen_features import linear_probe


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=20000)
    parser.add_argument('--d', type=int, default=512)
    parser.add_argument('--classes', type=int, default=100)
    parser.add_argument('--c', type=float, default=1.0)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(args.classes, args.d)).astype(np.float32)

    def split(n):
        y = rng.integers(0, args.classes, n)
        x = centers[y] + 6 * rng.normal(size=(n, args.d)).astype(np.float32)
        return x, y

    train_x, train_y = split(args.n)
    test_x, test_y = split(args.n // 4)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    print(f'N={args.n} D={args.d} classes={args.classes} C={args.c}; torch '
          f'on {device} with {torch.get_num_threads()} threads')
    seconds = {}
    for name in ('sklearn', 'torch'):
        start = time.perf_counter()
        top1, top5 = linear_probe(
            train_x, train_y, test_x, test_y, c=args.c, classifier=name)
        seconds[name] = time.perf_counter() - start
        print(f'| {name} | {seconds[name]:.1f} s | top-1 {top1:.2f} | top-5 '
              f'{top5:.2f} |')
    print(f'torch / sklearn time: {seconds["torch"] / seconds["sklearn"]:.2f}')


if __name__ == '__main__':
    main()
