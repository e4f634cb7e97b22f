# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""TensorBoard (the optional extra): a real run with mmengine's
TensorboardVisBackend writes the cluster scores and pictures to its event
file, equal to the diagnostics files."""
import glob
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from helpers import make_cfg, run_runner
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator


@pytest.mark.slow
def test_event_file_holds_cluster_scalars_and_images(tmp_path, image_root,
                                                     source_checkpoint):
    work = str(tmp_path / 'w')
    cfg = make_cfg(work, image_root, source_checkpoint)
    cfg['visualizer'] = dict(
        type='UniversalVisualizer',
        vis_backends=[dict(type='TensorboardVisBackend')])
    run_runner(cfg)
    events = glob.glob(osp.join(work, '*', 'vis_data', 'events.out.*'))
    assert len(events) == 1
    acc = EventAccumulator(events[0], size_guidance=dict(images=0))
    acc.Reload()
    diagnostics = osp.join(work, 'clusterfit', 'diagnostics')
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
