# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What the clustering code reads features from."""
from typing import Protocol, Tuple

import numpy as np


class Rows(Protocol):
    """Anything with ``len`` and slicing that yields float rows: an
    ``np.ndarray``, an ``np.memmap``, a :class:`DiskFeatures`, a
    :class:`ShardedFeatures`.

    Attributes:
        shape (tuple): ``(N, D)``.
    """

    shape: Tuple[int, ...]

    def __len__(self) -> int:
        ...

    def __getitem__(self, index: slice) -> np.ndarray:
        ...
