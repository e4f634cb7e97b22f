# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Transforms the tests put into pipelines (registered in mmpretrain's
TRANSFORMS; subprocess runs import them through custom_imports)."""
import os
import time

from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SlowDown(BaseTransform):
    """Sleep ``seconds`` per sample: makes extraction long enough to kill."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def transform(self, results: dict) -> dict:
        time.sleep(self.seconds)
        return results


@TRANSFORMS.register_module()
class RecordLabel(BaseTransform):
    """Append 'pid path gt_label' to ``out`` for every sample it sees: what a
    DataLoader worker really served."""

    def __init__(self, out: str):
        self.out = out

    def transform(self, results: dict) -> dict:
        assert isinstance(results['gt_label'], int)
        with open(self.out, 'a') as f:
            f.write(f"{os.getpid()} {os.path.basename(results['img_path'])} "
                    f"{results['gt_label']}\n")
        return results
