# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The cost of the content fingerprint (``fingerprint=dict(contents=...)``).

Times :func:`scan_samples` over a CustomDataset of generated images with
``contents='none'`` (paths only, the default), ``'mtime_size'`` and
``'sha256'``, against two baselines measured in the same run: a bare loop
of ``os.stat`` over the files, and a bare loop of ``hashlib.sha256`` over
their bytes. Prints seconds (best of ``--repeats``, the files in the page
cache after the first pass) and the ratios.

Usage:
    python tools/benchmarks/fingerprint.py --num-images 20000 --size 64
"""
import argparse
import hashlib
import os
import tempfile
import time

from common import write_images
from mmpretrain.registry import DATASETS
from mmpretrain.utils import register_all_modules

import clusterfit_plugin  # noqa: F401
from clusterfit_plugin.datasets import scan_samples


def best(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_sha256(paths) -> None:
    for path in paths:
        with open(path, 'rb') as f:
            hashlib.sha256(f.read()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--num-images', type=int, default=20000)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    register_all_modules()
    with tempfile.TemporaryDirectory() as root:
        write_images(root, args.num_images, args.size)
        dataset = DATASETS.build(
            dict(
                type='CustomDataset',
                data_root=root,
                ann_file='ann.txt',
                pipeline=[]))
        paths = [
            dataset.get_data_info(i)['img_path'] for i in range(len(dataset))
        ]
        megabytes = sum(os.path.getsize(p) for p in paths) / 2**20
        bare_sha256(paths)  # into the page cache
        times = {
            contents: best(lambda: scan_samples(dataset, contents),
                           args.repeats)
            for contents in ('none', 'mtime_size', 'sha256')
        }
        stat_s = best(lambda: [os.stat(p) for p in paths], args.repeats)
        sha_s = best(lambda: bare_sha256(paths), args.repeats)
    print(f'{args.num_images} images of {args.size} px, {megabytes:.1f} MiB, '
          f'best of {args.repeats} (files in the page cache)')
    print(f"contents='none'       {times['none']:.3f} s")
    print(f"contents='mtime_size' {times['mtime_size']:.3f} s "
          f"({times['mtime_size'] / times['none']:.2f}x 'none'; its stat "
          f'part vs a bare os.stat loop of {stat_s:.3f} s: '
          f"{(times['mtime_size'] - times['none']) / stat_s:.2f}x)")
    print(f"contents='sha256'     {times['sha256']:.3f} s "
          f"({times['sha256'] / times['none']:.2f}x 'none'; its hash part "
          f'vs a bare hashlib loop of {sha_s:.3f} s: '
          f"{(times['sha256'] - times['none']) / sha_s:.2f}x)")


if __name__ == '__main__':
    main()
