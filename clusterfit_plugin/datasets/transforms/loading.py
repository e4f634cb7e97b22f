# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``LoadImageFromFileCached``: decode each image file once per process."""
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageFromFileCached(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that keeps the decoded images in memory.

    Each process (the main one, or each DataLoader worker; persistent
    workers keep theirs across epochs) decodes a file the first time it is
    asked for and serves a copy of the array afterwards, so later epochs read
    no file. Meant for small datasets that are read for many epochs (the
    demo's 4,000 digits take 9 MB); once ``max_cache_mb`` is reached, further
    images are decoded every time as by ``LoadImageFromFile``.

    Args:
        max_cache_mb (float): memory the cache may take, per process.
            Defaults to 1024.
        **kwargs: the arguments of ``LoadImageFromFile`` (``to_float32``,
            ``color_type``, ``imdecode_backend``, ``backend_args``, ...).
    """

    def __init__(self, max_cache_mb: float = 1024, **kwargs):
        super().__init__(**kwargs)
        self.max_cache_bytes = int(max_cache_mb * 2**20)
        self._cache = {}
        self._cached_bytes = 0

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``, from the cache when it
        was decoded before.

        Args:
            results (dict): a sample's data info.

        Returns:
            dict | None: ``results`` with ``img``, ``img_shape`` and
            ``ori_shape`` (None for an unreadable file with
            ``ignore_empty=True``, as ``LoadImageFromFile``).
        """
        path = results['img_path']
        img = self._cache.get(path)
        if img is None:
            results = super().transform(results)
            if results is None:
                return None
            img = results['img']
            if self._cached_bytes + img.nbytes <= self.max_cache_bytes:
                self._cache[path] = img.copy()
                self._cached_bytes += img.nbytes
            return results
        img = np.array(img)  # a copy: later transforms may write into it
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', max_cache_mb={self.max_cache_bytes / 2**20:g})')
