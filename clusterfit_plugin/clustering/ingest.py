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
from typing import (Any, Callable, Iterator, List, Optional, Sequence, Tuple,
                    TypeVar, Union)

import numpy as np
import torch

from ..utils.progress import ProgressLogger
from .preprocessing import Preprocessor
from .sampling import iter_chunks, refuse_non_finite

Item = TypeVar('Item')
READ_AHEAD = 2  # chunks read ahead of the one in use


def prefetch(read: Callable[[Item], Any],
             items: Sequence[Item],
             depth: int = READ_AHEAD) -> Iterator[Tuple[Item, Any]]:
    """``(item, read(item))`` for each item, read ahead by one thread.

    At most ``depth`` chunks wait in memory. An error in ``read`` is raised
    here, at the item that failed; leaving the loop early stops the thread.

    Args:
        read (callable): reads the rows of one item (array or tensor).
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


class Stager:
    """Host tensors for chunks of rows on their way to a device.

    Rows from a memmap are copied (this is the read, done by the reading
    thread) into one of ``slots`` reused buffers, so that the pages of a
    new buffer are not faulted in for every chunk; ``slots`` must exceed
    the chunks alive at once (read ahead, queued, in use). Rows bound for
    CUDA go to page-locked memory from torch's caching host allocator,
    which reuses a block only once its copy to the device is done. Other
    rows are shared, not copied.

    Args:
        device (torch.device): where the rows go.
        slots (int): reused host buffers.
    """

    def __init__(self, device: torch.device, slots: int):
        self.device = device
        self.buffers: List[Optional[np.ndarray]] = [None] * slots

    def __call__(self, step: int, rows: np.ndarray) -> torch.Tensor:
        """Chunk number ``step``'s rows as a host tensor of their dtype.

        Args:
            step (int): the chunk's number, which picks its buffer.
            rows (np.ndarray): (n, D) rows.

        Returns:
            Tensor: (n, D) host tensor.
        """
        if self.device.type == 'cuda':
            out = torch.empty(
                rows.shape,
                dtype=torch.from_numpy(np.asarray(rows[:0])).dtype,
                pin_memory=True)
            np.copyto(out.numpy(), rows)
            return out
        if not isinstance(rows, np.memmap):
            return torch.from_numpy(np.ascontiguousarray(rows))
        slot = step % len(self.buffers)
        buffer = self.buffers[slot]
        if (buffer is None or buffer.shape[0] < rows.shape[0]
                or buffer.shape[1:] != rows.shape[1:]
                or buffer.dtype != rows.dtype):
            buffer = self.buffers[slot] = np.empty(rows.shape, rows.dtype)
        out = buffer[:rows.shape[0]]
        np.copyto(out, rows)
        return torch.from_numpy(out)


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

        def rows_of(pos: np.ndarray) -> np.ndarray:
            return x[pos[0]:pos[-1] + 1]
    else:
        order = np.argsort(indices, kind='stable')
        items = [order[sl] for sl in iter_chunks(len(order), chunk_size)]

        def rows_of(pos: np.ndarray) -> np.ndarray:
            return np.asarray(x[indices[pos]])

    stage = Stager(device, READ_AHEAD + 2)

    def read(step: Tuple[int, np.ndarray]) -> torch.Tensor:
        number, pos = step
        return stage(number, rows_of(pos))

    for (_, pos), rows in prefetch(read, list(enumerate(items))):
        out = preprocessor.apply_torch(rows.to(device, non_blocking=True))
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
