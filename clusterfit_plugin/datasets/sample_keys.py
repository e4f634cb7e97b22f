# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What identifies each sample of a dataset: its file (optionally with its
contents' size and time, or their hash), else its info."""
import os
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np

from ..fileio import sha256_file

# How much of each sample file a fingerprint covers.
CONTENTS = ('none', 'mtime_size', 'sha256')


def sample_path(info: dict) -> Optional[str]:
    """The file of a data info dict (``img_path``, ``filename``, ...).

    Args:
        info (dict): a data info.

    Returns:
        str | None: the first path-like entry.
    """
    for key, value in info.items():
        if isinstance(value, str) and (key.endswith('path')
                                       or key == 'filename'):
            return value
    return None


def _local(path: str) -> bool:
    """Whether ``path`` names a local file (not ``s3://`` and the like)."""
    return '://' not in path


def _contents(path: str, contents: str, index: int) -> list:
    """What a fingerprint records of one sample file's contents."""
    try:
        if contents == 'sha256':
            return [sha256_file(path)]
        stat = os.stat(path)
        return [stat.st_mtime_ns, stat.st_size]
    except OSError as e:
        raise FileNotFoundError(
            f'sample {index} of the dataset, {path!r}, cannot be read '
            f'({e.strerror or e}); fix the annotation list or the '
            'data_root.') from e


def scan_samples(dataset, contents: str = 'none') -> Tuple[List, np.ndarray]:
    """One pass over a dataset: each sample's identity and its true class.

    The identity is the sample's file, else its info without labels. With
    ``contents``, a local file's identity also holds its modification time
    and size (``'mtime_size'``: one ``stat`` per file) or the SHA-256 of its
    bytes (``'sha256'``: reads every file). Duplicate files are refused,
    however they are spelt (``./``, ``//``, symbolic links): a duplicate
    would weigh twice in k-means and get two labels.

    Args:
        dataset: an mmengine dataset (``get_data_info``).
        contents (str): one of :data:`CONTENTS`. Defaults to ``'none'``.

    Returns:
        tuple: the identities (list), and (N,) int64 single true labels
        (-1 when unknown or multi-label).
    """
    if contents not in CONTENTS:
        raise ValueError(f'fingerprint contents={contents!r} is unknown; use '
                         f'one of {CONTENTS}.')
    keys, classes, seen = [], [], {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path = sample_path(info)
        if path is not None:
            real = osp.realpath(path) if _local(path) else path
            if real in seen:
                raise ValueError(
                    f'samples {seen[real]} and {i} of the dataset are the '
                    f'same file {path!r}: a duplicate would weigh twice in '
                    'k-means and get two labels. Remove duplicates from the '
                    'annotation list.')
            seen[real] = i
        if path is None:
            key = {
                k: v
                for k, v in info.items() if k not in ('gt_label', 'sample_idx')
            }
        elif contents != 'none' and _local(path):
            key = [path] + _contents(path, contents, i)
        else:
            key = path
        keys.append(key)
        label = info.get('gt_label', -1)
        classes.append(int(label) if np.ndim(label) == 0 else -1)
    return keys, np.array(classes, dtype=np.int64)
