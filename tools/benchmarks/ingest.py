# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Host ingest of stored features: the plugin's reading of float16
disk-store rows against a bare ``np.memmap`` read of the same rows.

Issue 30, item 1: the assignment pass of ``cluster_by_index`` reads every
stored row, converts it to float32, L2-normalises it and checks that it is
finite, chunk by chunk. On an H200 that host work, single-core numpy, took
longer than the GPU's fit. This script times, on one float16 ``.npy`` file
(the disk store's layout, read from the page cache after a warm-up pass),
in the same run, one pass over all rows of:

- ``bare read``: ``np.array(x[rows])``, the rows copied out of the memmap
  (the floor: nothing is converted);
- ``numpy``: the rows through numpy's conversion, L2 and finiteness check,
  one thread (what the plugin did before issue 30);
- ``plugin, reading thread only``: :func:`prefetch` of chunks copied into
  :class:`Stager`'s reused buffers, what the host does when the device
  converts (on CUDA the buffers are page-locked, which a CPU run cannot
  do). Its buffers are made in the first chunks of a pass, so use at least
  16 chunks (``--n 1048576``) for a figure a long pass would see;
- ``plugin, the CPU converts``: :func:`device_chunks` on the CPU, the
  whole ingest of the torch backend there (reading thread, torch's
  conversion, L2 and check);
- ``torch float16 -> float32``: the conversion alone, in torch's threads:
  the most any host-side conversion can reach on this machine.

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
from typing import Callable

import numpy as np
import torch
from common import synthetic_chunk

from clusterfit_plugin.clustering.ingest import (READ_AHEAD, Stager,
                                                 device_chunks, prefetch)
from clusterfit_plugin.clustering.preprocessing import Preprocessor
from clusterfit_plugin.clustering.sampling import iter_chunks
from clusterfit_plugin.fileio import create_npy_memmap, open_npy_memmap

CPU = torch.device('cpu')


def numpy_ingest(rows: np.ndarray) -> np.ndarray:
    """The pre-issue-30 path: numpy, one thread."""
    x = np.asarray(rows, dtype=np.float32)
    bad = ~np.isfinite(x).all(axis=1)
    assert not bad.any()
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(x, dtype=np.float32)


def chunked(work: Callable[[np.ndarray], object]) -> Callable:
    """A pass that runs ``work`` on each chunk of rows."""

    def run(x: np.ndarray, chunk: int) -> None:
        for sl in iter_chunks(x.shape[0], chunk):
            work(x[sl])

    return run


def reading_thread(x: np.ndarray, chunk: int) -> None:
    """The host's share when the device converts: the reading thread."""
    stage = Stager(CPU, READ_AHEAD + 2)
    items = list(enumerate(iter_chunks(x.shape[0], chunk)))
    for _ in prefetch(lambda step: stage(step[0], x[step[1]]), items):
        pass


def cpu_ingest(x: np.ndarray, chunk: int) -> None:
    """The torch backend's whole ingest with the CPU as its device."""
    for _ in device_chunks(x, Preprocessor(), CPU, chunk, 'benchmark'):
        pass


def write_store(path: str, n: int, d: int) -> None:
    """A float16 ``.npy`` of ``n`` synthetic rows, written in chunks."""
    store = create_npy_memmap(path, 'float16', (n, d))
    for sl in iter_chunks(n, 65536):
        store[sl] = synthetic_chunk(sl.start, sl.stop, d)
    store.flush()
    del store


def time_pass(x, chunk: int, run) -> float:
    """Seconds of one pass of ``run`` over all rows of ``x``."""
    start = time.perf_counter()
    run(x, chunk)
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
        # The same output, so the timings compare like with like.
        sample = x[:4096]
        _, rows = next(
            device_chunks(sample, Preprocessor(), CPU, 4096, 'benchmark'))
        np.testing.assert_allclose(
            rows.numpy(), numpy_ingest(sample), rtol=1e-5, atol=1e-6)
        methods = {
            'bare read':
            chunked(np.array),
            'numpy, one thread (before issue 30)':
            chunked(numpy_ingest),
            'plugin, reading thread only (the host when a GPU converts)':
            reading_thread,
            'plugin, the CPU converts (device_chunks on the CPU)':
            cpu_ingest,
            'torch float16 -> float32 only':
            chunked(lambda rows: torch.from_numpy(np.asarray(rows)).float()),
        }
        time_pass(x, args.chunk, methods['bare read'])  # page cache warm-up
        best = {name: float('inf') for name in methods}
        for _ in range(args.repeats):
            for name, run in methods.items():
                best[name] = min(best[name], time_pass(x, args.chunk, run))
        print('| path | rows/s | GiB/s of float16 | vs bare read |')
        print('| --- | ---: | ---: | ---: |')
        for name, seconds in best.items():
            print(f'| {name} | {args.n / seconds:,.0f} | {gib / seconds:.2f} '
                  f'| {best["bare read"] / seconds:.2f} |')


if __name__ == '__main__':
    main()
