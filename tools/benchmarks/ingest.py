# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Host ingest of stored features: the plugin's preprocessing of float16
disk-store rows against a bare ``np.memmap`` read of the same rows.

Issue 30, item 1: the assignment pass of ``cluster_by_index`` reads every
stored row, converts it to float32, checks that it is finite and
L2-normalises it, chunk by chunk. On an H200 that host work, single-core
numpy, took longer than the GPU's fit. This script times, on one float16
``.npy`` file (the disk store's layout, read from the page cache after a
warm-up pass), in the same run:

- ``bare read``: ``np.array(x[rows])``, the rows copied out of the memmap
  (the floor: nothing is converted);
- ``numpy``: the rows through ``Preprocessor`` and the finiteness check in
  numpy, one thread (what the plugin did before);
- ``plugin``: ``Preprocessor`` and ``refuse_non_finite`` as they are now;
- ``torch float16 -> float32``: the conversion alone, in torch's threads,
  checking and normalising nothing: the most any host-side conversion can
  reach on this machine.

and prints rows per second and each one's ratio to the bare read.

Usage:
    python tools/benchmarks/ingest.py --n 262144 --d 2048
    python tools/benchmarks/ingest.py --threads 16   # on a bigger host
"""
import argparse
import os
import os.path as osp
import tempfile
import time

import numpy as np
import torch
from common import synthetic_chunk

from clusterfit_plugin.clustering.preprocessing import Preprocessor
from clusterfit_plugin.clustering.sampling import (iter_chunks,
                                                   refuse_non_finite)
from clusterfit_plugin.fileio import create_npy_memmap, open_npy_memmap


def numpy_ingest(rows: np.ndarray) -> np.ndarray:
    """The pre-issue-30 path: numpy, one thread."""
    x = np.asarray(rows, dtype=np.float32)
    bad = ~np.isfinite(x).all(axis=1)
    assert not bad.any()
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(x, dtype=np.float32)


def plugin_ingest(rows: np.ndarray,
                  preprocessor: Preprocessor,
                  offset: int = 0) -> np.ndarray:
    """The plugin's path now (what ``assign_shard`` runs per chunk)."""
    x = preprocessor(rows)
    refuse_non_finite(x, offset, 'benchmark')
    return x


def write_store(path: str, n: int, d: int) -> None:
    """A float16 ``.npy`` of ``n`` synthetic rows, written in chunks."""
    store = create_npy_memmap(path, 'float16', (n, d))
    for sl in iter_chunks(n, 65536):
        store[sl] = synthetic_chunk(sl.start, sl.stop, d)
    store.flush()
    del store


def time_pass(x, chunk: int, work) -> float:
    """Seconds of one pass of ``work`` over all rows of ``x``."""
    start = time.perf_counter()
    for sl in iter_chunks(x.shape[0], chunk):
        work(x[sl])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--n', type=int, default=262144)
    parser.add_argument('--d', type=int, default=2048)
    parser.add_argument('--chunk', type=int, default=65536)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--threads', type=int, help='torch threads (default: torch\'s own)')
    parser.add_argument('--dir', help='where the store goes (default: tmp)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = osp.join(tmp, 'features.npy')
        write_store(path, args.n, args.d)
        x = open_npy_memmap(path)
        gib = x.nbytes / 2**30
        print(f'{args.n} x {args.d} float16 ({gib:.2f} GiB) in {tmp}, chunks '
              f'of {args.chunk}, torch threads {torch.get_num_threads()}, '
              f'{os.cpu_count()} cores')
        preprocessor = Preprocessor(pca_dim=None, l2_normalize=True)
        # The same output, so the timings compare like with like.
        sample = x[:4096]
        np.testing.assert_allclose(
            plugin_ingest(sample, preprocessor),
            numpy_ingest(sample),
            rtol=1e-5,
            atol=1e-6)
        methods = dict(
            bare=lambda rows: np.array(rows),
            numpy=numpy_ingest,
            plugin=lambda rows: plugin_ingest(rows, preprocessor),
            **{
                'torch float16 -> float32':
                lambda rows: torch.from_numpy(np.asarray(rows)).float()
            })
        time_pass(x, args.chunk, methods['bare'])  # page cache warm-up
        best = {name: float('inf') for name in methods}
        for _ in range(args.repeats):
            for name, work in methods.items():
                best[name] = min(best[name], time_pass(x, args.chunk, work))
        print('| path | rows/s | GiB/s of float16 | vs bare read |')
        print('| --- | ---: | ---: | ---: |')
        for name, seconds in best.items():
            print(f'| {name} | {args.n / seconds:,.0f} | {gib / seconds:.2f} '
                  f'| {best["bare"] / seconds:.2f} |')


if __name__ == '__main__':
    main()
