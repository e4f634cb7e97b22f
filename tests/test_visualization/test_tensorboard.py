# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""TensorBoard (the optional extra): a real run with mmengine's
TensorboardVisBackend writes the cluster scores and pictures to its event
file, equal to the diagnostics files."""
import glob
import json
import os.path as osp
import time

import cv2
import numpy as np
import pytest
from helpers import make_cfg, run_runner
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator


def check_event_file(path: str, diagnostics: str) -> None:
    """The event file holds the scores and pictures of the diagnostics."""
    acc = EventAccumulator(path, size_guidance=dict(images=0))
    acc.Reload()
    metrics = json.load(open(osp.join(diagnostics, 'metrics_source.json')))
    for name in ('nmi', 'ari', 'purity'):
        (event, ) = acc.Scalars(f'clusterfit/{name}')
        assert event.value == pytest.approx(metrics[name], rel=1e-6)
    assert 'loss' in acc.Tags()['scalars']  # the training log, as usual
    for name in ('cluster_grid', 'cluster_sizes'):
        (event, ) = acc.Images(f'clusterfit_{name}_source')
        logged = cv2.imdecode(
            np.frombuffer(event.encoded_image_string, np.uint8),
            cv2.IMREAD_COLOR)
        written = cv2.imread(osp.join(diagnostics, f'{name}_source.png'))
        np.testing.assert_array_equal(logged, written)


@pytest.mark.slow
def test_event_file_holds_cluster_scalars_and_images(tmp_path, image_root,
                                                     source_checkpoint,
                                                     rounds):
    """On a miss, and again on the cache hit of a second run (which on the
    old main logged no cluster scalar and no picture)."""
    work = str(tmp_path / 'w')
    cfg = make_cfg(work, image_root, source_checkpoint)
    cfg['visualizer'] = dict(
        type='UniversalVisualizer',
        vis_backends=[dict(type='TensorboardVisBackend')])
    diagnostics = osp.join(work, 'clusterfit', 'diagnostics')
    run_runner(cfg)
    (first, ) = glob.glob(osp.join(work, '*', 'vis_data', 'events.out.*'))
    check_event_file(first, diagnostics)
    time.sleep(1.1)  # the second run's timestamped folder differs
    run_runner(cfg)
    assert rounds == [('backbone', 0)]  # the second run was a cache hit
    events = glob.glob(osp.join(work, '*', 'vis_data', 'events.out.*'))
    (second, ) = set(events) - {first}
    check_event_file(second, diagnostics)
