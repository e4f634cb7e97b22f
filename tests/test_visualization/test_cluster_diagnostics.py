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

from clusterfit_plugin.visualization import cluster_grid, to_tile
from clusterfit_plugin.visualization.cluster_diagnostics import (row_label,
                                                                 text_patch)

TITLE_H, LABEL_W, PAD = 22, 96, 2


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
    # Under a title, row r shows the id and size of the r-th largest cluster
    # and its first members, each tile the sample as the extraction pipeline
    # loads it (64 px, 2 px borders).
    inner = runner.train_dataloader.dataset.dataset
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind='stable')
    np.testing.assert_array_equal(
        grid[:TITLE_H],
        text_patch(
            f'source: the 3 largest of K=3 clusters, N={NUM_IMAGES}; rows: '
            'cluster id, size', TITLE_H, grid.shape[1]))
    for row, k in enumerate(order[:3]):
        y = TITLE_H + PAD + row * 66
        np.testing.assert_array_equal(
            grid[y:y + 64, :LABEL_W],
            text_patch(row_label(k, sizes[k]), 64, LABEL_W))
        for col, idx in enumerate(np.flatnonzero(labels == k)[:8]):
            x = LABEL_W + PAD + col * 66
            want = to_tile(inner[int(idx)]['inputs'])
            np.testing.assert_array_equal(grid[y:y + 64, x:x + 64], want)


def test_grid_rows_carry_cluster_id_and_size():
    labels = np.array([2, 0, 2, 1, 2, 0, 5, 2])
    colours = np.random.default_rng(0).integers(0, 255, (8, 3), np.uint8)

    def load(i):
        return np.broadcast_to(colours[i], (8, 8, 3)).copy()

    grid = cluster_grid(labels, load, 3, 2, title='t')
    assert grid.shape == (TITLE_H + 3 * 10 + PAD, LABEL_W + 2 * 10 + PAD, 3)
    # The largest three, by size then id: 2 (4), 0 (2), 1 (1).
    for row, (k, n, members) in enumerate([(2, 4, [0, 2]), (0, 2, [1, 5]),
                                           (1, 1, [3])]):
        y = TITLE_H + PAD + row * 10
        label = grid[y:y + 8, :LABEL_W]
        np.testing.assert_array_equal(label,
                                      text_patch(f'#{k} n={n}', 8, LABEL_W))
        assert (label < 128).any()  # some text is drawn
        for col, i in enumerate(members):
            x = LABEL_W + PAD + col * 10
            np.testing.assert_array_equal(grid[y:y + 8, x:x + 8], load(i))
    # Distinct rows get distinct labels.
    assert not np.array_equal(
        text_patch('#2 n=4', 8, LABEL_W), text_patch('#0 n=2', 8, LABEL_W))


def test_a_clip_tile_is_a_strip_of_frames():
    """A clip (C x T x H x W, RGB) shows 4 evenly spaced frames, so motion
    is visible; an image (C x H x W, BGR) one square."""
    clip = np.zeros((3, 9, 16, 16), np.uint8)
    for t in range(9):
        clip[:, t, :, t:t + 4] = 200  # a bar moving right
    strip = to_tile(clip, size=16)
    assert strip.shape == (16, 64, 3)
    for j, t in enumerate([0, 3, 5, 8]):  # linspace(0, 8, 4), rounded
        np.testing.assert_array_equal(strip[:, 16 * j:16 * (j + 1)],
                                      clip[:, t].transpose(1, 2, 0))
    assert not np.array_equal(strip[:, :16], strip[:, 48:])
    image = np.zeros((3, 16, 16), np.uint8)
    image[0] = 255  # blue in BGR
    tile = to_tile(image, size=16)
    assert tile.shape == (16, 16, 3) and (tile[..., 2] == 255).all()
