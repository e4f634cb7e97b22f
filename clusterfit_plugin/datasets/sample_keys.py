# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What identifies each sample of a dataset: its file, else its info."""
from typing import List, Optional, Tuple

import numpy as np


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


def scan_samples(dataset) -> Tuple[List, np.ndarray]:
    """One pass over a dataset: each sample's identity and its true class.

    The identity is the sample's file, else its info without labels.
    Duplicate files are refused: a duplicate would weigh twice in k-means
    and get two labels.

    Args:
        dataset: an mmengine dataset (``get_data_info``).

    Returns:
        tuple: the identities (list), and (N,) int64 single true labels
        (-1 when unknown or multi-label).
    """
    keys, classes, seen = [], [], {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path = sample_path(info)
        if path is not None and path in seen:
            raise ValueError(
                f'samples {seen[path]} and {i} of the dataset are the same '
                f'file {path!r}: a duplicate would weigh twice in k-means '
                'and get two labels. Remove duplicates from the annotation '
                'list.')
        seen[path] = i
        keys.append(path or {
            k: v
            for k, v in info.items() if k not in ('gt_label', 'sample_idx')
        })
        label = info.get('gt_label', -1)
        classes.append(int(label) if np.ndim(label) == 0 else -1)
    return keys, np.array(classes, dtype=np.int64)
