# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Where a rank's extracted features are kept, whatever the backend.

:class:`FeatureStore` holds the features of one rank's samples, in memory or
in a memory-mapped ``.npy`` file, float32 or float16, written batch by batch.
On disk the file is allocated in full before the first row (a full disk is
a clear error, not a SIGBUS), never through a symbolic link, and a small
progress file (written atomically after a flush) records how many rows are
complete and the SHA-256 of the last flushed block, so an interrupted
extraction resumes from there and a progress file that does not match the
rows is not trusted. :class:`Preprocessor` (optional PCA with whitening,
then L2 normalisation) is fitted on the k-means sample and applied chunk by
chunk, so no second full-size copy of the features is ever made.
"""
import errno
import hashlib
import json
import logging
import mmap
import os
import os.path as osp
from typing import Callable, Optional, Union

import numpy as np
from mmengine.logging import print_log

from ..fileio import (atomic_save_json, create_npy_memmap, open_npy_memmap,
                      remove_if_present)
from ..utils.progress import ProgressLogger
from .sampling import iter_chunks

DTYPES = ('float32', 'float16')

SOURCE_FIX = ('Check the source checkpoint (diverged weights?) and the '
              'extract pipeline (corrupt or constant inputs); nothing was '
              'written.')


def check_finite(features: np.ndarray,
                 indices: np.ndarray,
                 where: str,
                 fix: str = SOURCE_FIX) -> None:
    """Raise if any feature is NaN or infinite, naming the samples: a
    non-finite row never becomes a label.

    Args:
        features (np.ndarray | DiskFeatures): (n, D) features, read in
            chunks.
        indices (np.ndarray): (n,) dataset indices of the rows.
        where (str): what produced the features, for the message.
        fix (str): what to do, for the message. Defaults to checking the
            source.
    """
    bad = np.zeros(len(indices), dtype=bool)
    for sl in iter_chunks(len(indices), 65536):
        bad[sl] = ~np.isfinite(features[sl]).all(axis=1)
    if bad.any():
        first = indices[bad][:5].tolist()
        raise ValueError(
            f'{where} produced NaN/inf features for {int(bad.sum())} '
            f'sample(s), e.g. dataset indices {first}. {fix}')


def _release(array: np.memmap) -> None:
    """Drop a memmap's pages from this process (they stay in the page cache
    and on disk), so reading a large file chunk by chunk keeps the resident
    set at one chunk."""
    mapping = getattr(array, '_mmap', None)
    if mapping is not None and hasattr(mmap, 'MADV_DONTNEED'):
        mapping.madvise(mmap.MADV_DONTNEED)


class DiskFeatures:
    """Read access to an on-disk store's features, one slice at a time.

    ``view[sl]`` returns a copy of the rows and releases the mapped pages, so
    iterating over chunks never makes the whole file resident.

    Args:
        array (np.memmap): the store's memory map.
    """

    def __init__(self, array: np.memmap):
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, sl: slice) -> np.ndarray:
        rows = np.array(self.array[sl])
        _release(self.array)
        return rows


class FeatureStore:
    """(num_rows, dim) features of one rank, in memory or on disk.

    Args:
        num_rows (int): rows to hold (this rank's samples).
        dtype (str): ``'float32'`` or ``'float16'``. Defaults to float32.
        path (str, optional): a ``.npy`` file to memory-map; None keeps the
            features in memory. A progress file ``{path}.json`` beside it
            records the complete rows and the ``key`` they were made for.
        key (str): identifies what the features are of (a fingerprint); a
            file made for another key is discarded, never resumed.
        flush_every (int): on disk, flush and record progress every this
            many rows. Defaults to 8192.
        check_dim (callable, optional): called with the feature dimension
            at the first rows, before anything is allocated (to reject
            settings that cannot fit it, e.g. a PCA dimension, before the
            whole extraction).
    """

    def __init__(self,
                 num_rows: int,
                 dtype: str = 'float32',
                 path: Optional[str] = None,
                 key: str = '',
                 flush_every: int = 8192,
                 check_dim: Optional[Callable[[int], None]] = None):
        if dtype not in DTYPES:
            raise ValueError(f'feature dtype={dtype!r} is unknown; use one '
                             f'of {DTYPES}.')
        self.num_rows = int(num_rows)
        self.dtype = dtype
        self.path = path
        self.key = key
        self.flush_every = int(flush_every)
        self.check_dim = check_dim
        self.array: Optional[np.ndarray] = None
        self.rows_done = 0
        self._since_flush = 0
        self._block_start = 0
        self._progress = ProgressLogger()
        if path is not None:
            self._resume()

    @property
    def progress_path(self) -> str:
        """str: the progress file of an on-disk store."""
        return f'{self.path}.json'

    def _block_digest(self, start: int, stop: int) -> str:
        """SHA-256 of rows ``[start, stop)`` as stored."""
        digest = hashlib.sha256()
        for begin in range(start, stop, 65536):
            digest.update(
                np.ascontiguousarray(
                    self.array[begin:min(begin + 65536, stop)]).tobytes())
        _release(self.array)
        return digest.hexdigest()

    def _resume(self) -> None:
        try:
            with open(self.progress_path, encoding='utf-8') as f:
                progress = json.load(f)
        except (OSError, ValueError):
            return
        if (not isinstance(progress, dict) or progress.get('key') != self.key
                or progress.get('num_rows') != self.num_rows
                or progress.get('dtype') != self.dtype
                or not osp.isfile(self.path)):
            return
        try:
            array = open_npy_memmap(self.path)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise  # no room for the rows to come: say so, keep the rows
            return
        except ValueError:
            return
        if array.shape != (self.num_rows, progress.get('dim')):
            return
        self.array = array
        rows_done, block = progress.get('rows_done'), progress.get('block')
        if (isinstance(rows_done, int) and 0 <= rows_done <= self.num_rows
                and isinstance(block, list) and len(block) == 2
                and all(isinstance(n, int) for n in block)
                and 0 <= block[0] <= block[1] == rows_done and
                progress.get('block_sha256') == self._block_digest(*block)):
            self.rows_done = self._block_start = rows_done
            return
        self.array = None
        print_log(
            f'{self.progress_path} does not match the rows in {self.path} '
            f'(rows_done={rows_done!r}); they are not trusted and the '
            'extraction starts over.',
            logger='current',
            level=logging.WARNING)

    def _allocate(self, dim: int) -> None:
        if self.check_dim is not None:
            self.check_dim(dim)
        if self.path is None:
            self.array = np.empty((self.num_rows, dim), dtype=self.dtype)
            return
        os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
        remove_if_present(self.progress_path)
        self.array = create_npy_memmap(self.path, self.dtype,
                                       (self.num_rows, dim))
        self._block_start = 0
        self._record()

    def _record(self) -> None:
        self.array.flush()
        start = self._block_start
        atomic_save_json(
            self.progress_path,
            dict(
                key=self.key,
                num_rows=self.num_rows,
                dtype=self.dtype,
                dim=int(self.array.shape[1]),
                rows_done=self.rows_done,
                block=[start, self.rows_done],
                block_sha256=self._block_digest(start, self.rows_done)))
        self._block_start = self.rows_done
        self._since_flush = 0
        self._progress.log(f'{self.rows_done}/{self.num_rows} feature rows '
                           f'flushed to {self.path}')

    def append(self, features: np.ndarray) -> None:
        """Write the next rows.

        Args:
            features (np.ndarray): (n, dim) features of the next n samples.
        """
        if not np.isfinite(features).all():
            rows = self.rows_done + np.flatnonzero(~np.isfinite(features).all(
                axis=1))
            raise ValueError(
                f'the feature store refuses NaN/inf rows (rows '
                f'{rows[:5].tolist()} of this shard): they would become '
                'labels. Nothing more is written; the shard stays '
                'incomplete.')
        if self.array is None:
            self._allocate(features.shape[1])
        if self.dtype == 'float16':
            self._check_half_range(features)
        n = features.shape[0]
        self.array[self.rows_done:self.rows_done + n] = features
        self.rows_done += n
        self._since_flush += n
        if self.path is not None and self._since_flush >= self.flush_every:
            self._record()

    def _check_half_range(self, features: np.ndarray) -> None:
        """Raise when finite features exceed float16's range (they would be
        stored as inf)."""
        finite = np.abs(features[np.isfinite(features)])
        peak = float(finite.max()) if finite.size else 0.0
        if peak > float(np.finfo(np.float16).max):
            raise ValueError(
                f'features reach {peak:.4g}, beyond the float16 range '
                f'({float(np.finfo(np.float16).max):g}) of the feature '
                f'store (row {self.rows_done} on). Store them as float32: '
                "features=dict(dtype='float32').")

    def finish(self) -> Union[np.ndarray, DiskFeatures]:
        """Flush and return the complete (num_rows, dim) features.

        Returns:
            np.ndarray | DiskFeatures: the array in memory, or a chunk-wise
            reader of the file on disk.
        """
        if self.rows_done != self.num_rows:
            raise RuntimeError(f'feature store has {self.rows_done} of '
                               f'{self.num_rows} rows.')
        if self.array is None:  # a rank without samples
            self.array = np.empty((0, 0), dtype=self.dtype)
        elif self.path is not None:
            self._record()
            return DiskFeatures(self.array)
        return self.array

    def remove(self) -> None:
        """Delete the files of an on-disk store."""
        self.array = None
        if self.path is not None:
            remove_if_present(self.path)
            remove_if_present(self.progress_path)
