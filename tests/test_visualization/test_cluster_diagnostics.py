# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Cluster diagnostics written by a real run."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from helpers import NUM_IMAGES, make_cfg
from mmengine.config import Config
from mmengine.runner import Runner
from sklearn.metrics import normalized_mutual_info_score

from clusterfit_plugin.visualization import to_tile


@pytest.mark.slow
def test_diagnostics_files(tmp_path, image_root, source_checkpoint):
    work = str(tmp_path / 'w')
    runner = Runner.from_cfg(
        Config(make_cfg(work, image_root, source_checkpoint)))
    runner.train()
    d = osp.join(work, 'clusterfit', 'diagnostics')
    metrics = json.load(open(osp.join(d, 'metrics_source.json')))
    labels = runner.train_dataloader.dataset.labels
    truth = np.arange(NUM_IMAGES) % 3
    assert metrics['nmi'] == pytest.approx(
        normalized_mutual_info_score(truth, labels))
    assert metrics['num_labelled'] == NUM_IMAGES
    hist = cv2.imread(osp.join(d, 'cluster_sizes_source.png'))
    assert hist is not None and hist.shape[2] == 3
    grid = cv2.imread(osp.join(d, 'cluster_grid_source.png'))[..., ::-1]
    # Row r shows the first members of the r-th largest cluster, each tile
    # the sample as the extraction pipeline loads it (64 px, 2 px borders).
    inner = runner.train_dataloader.dataset.dataset
    order = np.argsort(-np.bincount(labels), kind='stable')
    for row, k in enumerate(order[:3]):
        for col, idx in enumerate(np.flatnonzero(labels == k)[:8]):
            y, x = 2 + row * 66, 2 + col * 66
            want = to_tile(inner[int(idx)]['inputs'])
            np.testing.assert_array_equal(grid[y:y + 64, x:x + 64], want)
