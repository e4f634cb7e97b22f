# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Stored rows onto the compute device.

A background thread reads the next chunk of rows (from a memmap: the page
cache or the disk) while the current one is computed; each chunk goes to
the device in its stored dtype (float16 halves the bytes read and moved),
through pinned memory on CUDA, and is converted to float32, preprocessed
and checked there by torch. So on a GPU the host only reads; on the CPU,
torch's threads do the conversion.
"""
import queue
import threading
from typing import (Callable, Iterator, Optional, Sequence, Tuple, TypeVar,
                    Union)

import numpy as np
import torch

from ..utils.progress import ProgressLogger
from .preprocessing import Preprocessor
from .sampling import iter_chunks, refuse_non_finite

Item = TypeVar('Item')


def prefetch(read: Callable[[Item], np.ndarray],
             items: Sequence[Item],
             depth: int = 2) -> Iterator[Tuple[Item, np.ndarray]]:
    """``(item, read(item))`` for each item, read ahead by one thread.

    At most ``depth`` chunks wait in memory. An error in ``read`` is raised
    here, at the item that failed; leaving the loop early stops the thread.

    Args:
        read (callable): reads the rows of one item.
        items (Sequence): what to read, in order.
        depth (int): chunks read ahead at most. Defaults to 2.

    Returns:
        Iterator[tuple]: each item with its rows, in order.
    """
    ready: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        for item in items:
            try:
                entry = (item, read(item), None)
            except Exception as err:  # raised again in the reading loop
                put((item, None, err))
                return
            if not put(entry):
                return

    thread = threading.Thread(
        target=work, name='clusterfit-prefetch', daemon=True)
    thread.start()
    try:
        for _ in range(len(items)):
            item, rows, err = ready.get()
            if err is not None:
                raise err
            yield item, rows
    finally:
        stop.set()
        thread.join()


def to_device(rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows in their stored dtype on ``device`` (through pinned memory on
    CUDA, so the copy does not wait for the host).

    Args:
        rows (np.ndarray): (n, D) rows.
        device (torch.device): where they go.

    Returns:
        Tensor: (n, D), same dtype; shares memory with ``rows`` on the CPU.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(rows))
    if device.type == 'cuda':
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def device_chunks(
    x: np.ndarray,
    preprocessor: Preprocessor,
    device: torch.device,
    chunk_size: int,
    what: str,
    indices: Optional[np.ndarray] = None
) -> Iterator[Tuple[np.ndarray, torch.Tensor]]:
    """Rows of ``x`` read ahead, preprocessed and checked on ``device``.

    Args:
        x (np.ndarray): (N, D) stored rows, memmap allowed.
        preprocessor (Preprocessor): fitted PCA / L2, applied in torch.
        device (torch.device): where the rows are computed on.
        chunk_size (int): rows per chunk.
        what (str): the step, for the error on NaN/inf rows.
        indices (np.ndarray, optional): rows to take; they are read in
            sorted order (forward reads). None: every row, in order.

    Returns:
        Iterator[tuple]: for each chunk, the (n,) int64 positions of its
        rows (in ``indices``, or in ``x``) and the (n, D') float32 rows.
    """
    if indices is None:
        items = [
            np.arange(sl.start, sl.stop)
            for sl in iter_chunks(x.shape[0], chunk_size)
        ]

        def read(pos: np.ndarray) -> np.ndarray:
            return np.array(x[pos[0]:pos[-1] + 1])
    else:
        order = np.argsort(indices, kind='stable')
        items = [order[sl] for sl in iter_chunks(len(order), chunk_size)]

        def read(pos: np.ndarray) -> np.ndarray:
            return np.asarray(x[indices[pos]])

    for pos, rows in prefetch(read, items):
        out = preprocessor.apply_torch(to_device(rows, device))
        refuse_non_finite(out, pos if indices is None else indices[pos], what)
        yield pos, out


def host_rows(sample: Union[np.ndarray, torch.Tensor],
              indices: Optional[np.ndarray]) -> np.ndarray:
    """Rows of a sample (numpy, or a tensor on any device) as float32
    numpy, such as the points a k-means start is drawn from.

    Args:
        sample (np.ndarray | Tensor): (M, D) rows.
        indices (np.ndarray, optional): rows to take; None: all.

    Returns:
        np.ndarray: (m, D) float32.
    """
    if isinstance(sample, np.ndarray):
        picked = sample if indices is None else sample[indices]
        return np.ascontiguousarray(picked, dtype=np.float32)
    if indices is not None:
        sample = sample[torch.from_numpy(indices).to(sample.device)]
    return sample.float().cpu().numpy()


def upload_rows(x: np.ndarray, indices: Optional[np.ndarray],
                preprocessor: Preprocessor, dtype: torch.dtype,
                device: torch.device, chunk_size: int,
                progress: ProgressLogger) -> torch.Tensor:
    """``preprocessor(x[indices])`` on ``device``, stored in ``dtype``.

    Only one float32 chunk exists at a time on the device, and one stored
    chunk (read ahead) on the host: the full-size array is made once, on
    the device, in ``dtype``.

    Args:
        x (np.ndarray): (N, D) stored rows, memmap allowed.
        indices (np.ndarray, optional): (M,) rows in the wanted order;
            None: all rows.
        preprocessor (Preprocessor): fitted PCA / L2.
        dtype (torch.dtype): storage dtype on the device.
        device (torch.device): the device.
        chunk_size (int): rows per chunk.
        progress (ProgressLogger): logs the rows done.

    Returns:
        Tensor: (M, D') preprocessed rows.
    """
    num = x.shape[0] if indices is None else len(indices)
    out = None
    done = 0
    for pos, rows in device_chunks(x, preprocessor, device, chunk_size,
                                   'k-means fit sample', indices):
        if out is None:
            out = torch.empty((num, rows.shape[1]), dtype=dtype, device=device)
        if indices is None:
            out[int(pos[0]):int(pos[-1]) + 1] = rows
        else:
            out[torch.from_numpy(pos).to(device)] = rows.to(dtype)
        done += len(pos)
        progress.log(f'k-means sample: {done}/{num} rows on {device}')
    return out
