# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""RotNet: the rotation loss, and a RotNet trained by the Runner as a
ClusterFit source."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import (BACKBONE, PIPELINE, image_dataset, make_cfg,
                     reference_labels)
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from clusterfit_plugin.engine.source import build_source_model

ROTNET = dict(
    type='RotNet',
    backbone=BACKBONE,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=4, in_channels=32))


def test_rotnet_loss_is_rotation_cross_entropy():
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(ROTNET)).eval()
    x = torch.randn(3, 3, 12, 12)
    loss = model.loss(x, [None] * 3)['loss']
    rotated = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
    logits = model.head(model.neck(model.backbone(rotated)))
    target = torch.arange(4).repeat_interleave(3)
    torch.testing.assert_close(loss, F.cross_entropy(logits, target))
    with pytest.raises(ValueError, match='square'):
        model.loss(torch.randn(2, 3, 12, 10), [None] * 2)


@pytest.mark.slow
def test_rotnet_trains_and_is_a_clusterfit_source(tmp_path, image_root):
    work = str(tmp_path / 'rot')
    cfg = make_cfg(work, image_root, None)
    cfg['model'] = dict(
        ROTNET,
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor',
            mean=[0, 0, 0],
            std=[255, 255, 255]))
    cfg['custom_hooks'] = []
    cfg['train_dataloader']['dataset'] = dict(
        type='CustomDataset',
        data_root=image_root,
        ann_file='ann.txt',
        pipeline=PIPELINE)
    cfg['train_cfg']['max_epochs'] = 2
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    ckpt = osp.join(work, 'epoch_2.pth')
    cf = make_cfg(str(tmp_path / 'cf'), image_root, ckpt)
    cf['custom_hooks'][0]['source'] = dict(
        model=cfg['model'], checkpoint=ckpt, stage='neck')
    cf_runner = Runner.from_cfg(Config(cf))
    cf_runner.train()
    # The labels of the RotNet neck's features, computed outside the hook.
    source = build_source_model(
        dict(model=cfg['model'], checkpoint=ckpt, stage='neck'))
    np.testing.assert_array_equal(
        cf_runner.train_dataloader.dataset.labels,
        reference_labels(source, image_dataset(image_root), stage='neck'))
