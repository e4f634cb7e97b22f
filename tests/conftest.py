# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Shared fixtures: tiny real image data, a real source checkpoint, and
configs for real mmengine Runner runs."""
import copy
import os
import os.path as osp
import sys
import uuid

import cv2
import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import clusterfit_plugin  # noqa: E402,F401

# 45 images: not divisible by world size x batch size (2 x 4).
NUM_IMAGES = 45
NUM_CLUSTERS = 3

BACKBONE = dict(
    type='ResNet_CIFAR',
    depth=18,
    base_channels=4,
    stem_channels=4,
    norm_cfg=dict(type='BN'))
SOURCE_MODEL = dict(
    type='ImageClassifier',
    backbone=BACKBONE,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=5, in_channels=32))
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def write_images(root: str, num: int = NUM_IMAGES) -> str:
    """Three visibly different kinds of 16x16 image; returns the ann file."""
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'img'), exist_ok=True)
    lines = []
    for i in range(num):
        kind = i % 3
        img = rng.integers(0, 40, size=(16, 16, 3)).astype(np.uint8)
        if kind == 0:
            img[:, :8] += 200
        elif kind == 1:
            img[8:, :] += 200
        else:
            img[4:12, 4:12, 1] += 210
        cv2.imwrite(osp.join(root, 'img', f'{i:03d}.png'), img)
        lines.append(f'img/{i:03d}.png {kind}\n')
    with open(osp.join(root, 'ann.txt'), 'w') as f:
        f.writelines(lines)
    return osp.join(root, 'ann.txt')


@pytest.fixture(scope='session')
def image_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('images'))
    write_images(root)
    return root


@pytest.fixture(scope='session')
def source_checkpoint(tmp_path_factory) -> str:
    """A real checkpoint file of SOURCE_MODEL (seeded random weights)."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(SOURCE_MODEL))
    model.init_weights()
    path = str(tmp_path_factory.mktemp('source') / 'source.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def make_cfg(work_dir: str, image_root: str, checkpoint: str,
             num_clusters: int = NUM_CLUSTERS, max_epochs: int = 1,
             **hook_overrides) -> dict:
    """A complete tiny ClusterFit config for the mmengine Runner."""
    hook = dict(
        type='ClusterFitHook',
        num_clusters=num_clusters,
        source=dict(
            model=copy.deepcopy(SOURCE_MODEL),
            checkpoint=checkpoint,
            stage='backbone'),
        extract_pipeline=copy.deepcopy(PIPELINE),
        kmeans=dict(niter=10, seed=0),
        batch_size=8,
        num_workers=0)
    hook.update(hook_overrides)
    return dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['clusterfit_plugin']),
        work_dir=work_dir,
        experiment_name=f'test_{uuid.uuid4().hex[:8]}',
        model=dict(
            type='ImageClassifier',
            backbone=copy.deepcopy(BACKBONE),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='ClusterFitHead',
                num_clusters=num_clusters,
                in_channels=32)),
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='ClusterFitDataset',
                dataset=dict(
                    type='CustomDataset',
                    data_root=image_root,
                    ann_file='ann.txt',
                    pipeline=copy.deepcopy(PIPELINE)))),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=5)),
        custom_hooks=[hook],
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='INFO')
