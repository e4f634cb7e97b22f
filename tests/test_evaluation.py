# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The frozen-feature evaluation (known features give known accuracy), the
eval / leaderboard tools, cluster diagnostics, and RotNet."""
import copy
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from clusterfit_plugin.engine.extractor import (build_source_model,
                                                extract_features)
from clusterfit_plugin.evaluation import (evaluate_features,
                                          few_shot_indices, markdown_table)
from clusterfit_plugin.visualization import agreement, to_tile
from conftest import BACKBONE, NUM_IMAGES, PIPELINE, ROOT, make_cfg


def separable(n_per_class=60, classes=4, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 10
    y = np.repeat(np.arange(classes), n_per_class)
    x = centers[y] + rng.normal(size=(len(y), dim))
    return x.astype(np.float32), y


def test_separable_features_give_full_accuracy():
    x, y = separable()
    rng = np.random.default_rng(1)
    test_x = x + rng.normal(scale=0.5, size=x.shape).astype(np.float32)
    result = evaluate_features(x, y, test_x, y, shots=5, k=5)
    assert result == {'linear': 100.0, '5shot': 100.0, 'knn5': 100.0}


def test_random_labels_give_chance():
    x, _ = separable(n_per_class=100)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, size=len(x))
    ty = rng.integers(0, 4, size=len(x))
    result = evaluate_features(x, y, x, ty, protocols=('knn', 'linear'))
    assert result['knn20'] < 40 and result['linear'] < 40


def test_few_shot_indices():
    y = np.repeat(np.arange(3), 7)
    idx = few_shot_indices(y, 5, seed=0)
    assert np.bincount(y[idx]).tolist() == [5, 5, 5]
    np.testing.assert_array_equal(idx, few_shot_indices(y, 5, seed=0))
    with pytest.raises(ValueError, match='fewer than shots=8'):
        few_shot_indices(y, 8, seed=0)
    with pytest.raises(ValueError, match='unknown protocols'):
        evaluate_features(*separable(), *separable(), protocols=('svm', ))


def test_agreement_scores_match_sklearn():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 5, 300)
    clusters = (classes * 3 + rng.integers(0, 3, 300)) % 7
    scores = agreement(clusters, classes)
    assert scores['nmi'] == pytest.approx(
        normalized_mutual_info_score(classes, clusters))
    assert scores['ari'] == pytest.approx(
        adjusted_rand_score(classes, clusters))
    # Purity by hand: cluster 0 holds classes 4, 4, 5 (majority 2 of 3),
    # cluster 1 holds 6, 7 (majority 1 of 2): (2 + 1) / 5.
    assert agreement(np.array([0, 0, 0, 1, 1]),
                     np.array([4, 4, 5, 6, 7]))['purity'] == pytest.approx(
                         3 / 5)
    # Unknown classes (-1) are left out.
    assert agreement(np.array([0, 1, 1]),
                     np.array([-1, 2, 2]))['num_labelled'] == 2


def test_eval_tool_and_leaderboard(tmp_path, image_root, source_checkpoint):
    data_cfg = tmp_path / 'data.py'
    split = dict(type='CustomDataset', data_root=image_root,
                 ann_file='ann.txt', pipeline=PIPELINE)
    Config(dict(eval_train_dataset=split,
                eval_test_dataset=split)).dump(str(data_cfg))
    model_cfg = tmp_path / 'model.py'
    Config(dict(model=make_cfg('w', image_root, None)['model'])).dump(
        str(model_cfg))
    out = tmp_path / 'rows'
    for ckpt, name in ((source_checkpoint, 'trained'), ('none', 'random')):
        proc = subprocess.run([
            sys.executable, osp.join(ROOT, 'tools', 'eval_features.py'),
            str(model_cfg), ckpt, '--data', str(data_cfg), '--name', name,
            '--shots', '5', '--k', '5', '--batch-size', '8', '--num-workers',
            '0', '--init-seed', '3', '--out-dir', str(out)
        ], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.load(open(out / 'trained.json'))
    assert set(row) >= {'method', 'source', 'backbone', 'K', 'dataset',
                        'protocol', 'top1', 'checkpoint', 'command'}
    assert row['K'] == 3 and row['backbone'] == 'ResNet_CIFAR'
    assert set(row['top1']) == {'linear', '5shot', 'knn5'}
    # The same numbers as the protocols on directly extracted features; the
    # random row is the network initialised with --init-seed.
    ds = DATASETS.build(split)
    truth = np.arange(NUM_IMAGES) % 3
    random_row = json.load(open(out / 'random.json'))
    assert random_row['checkpoint'] == 'random-init-3'
    for checkpoint, init_seed, evaluated in (
            (source_checkpoint, 0, row), (None, 3, random_row)):
        model = build_source_model(dict(config=str(model_cfg),
                                        checkpoint=checkpoint,
                                        init_seed=init_seed,
                                        stage='backbone'))
        feats = extract_features(model, ds, PIPELINE, np.arange(len(ds)),
                                 'backbone', num_workers=0, progress=False)
        direct = evaluate_features(feats, truth, feats, truth, shots=5, k=5)
        assert evaluated['top1'] == {
            k: round(v, 2) for k, v in direct.items()}
    assert (out / 'trained.md').read_text().startswith('| method |')
    merged = subprocess.run([
        sys.executable, osp.join(ROOT, 'tools', 'leaderboard.py'),
        str(out / 'trained.json'), str(out / 'random.json')
    ], capture_output=True, text=True, timeout=120).stdout
    assert merged == markdown_table([row, random_row]) + '\n'
    assert merged.count('\n') == 4 and '| random |' in merged


def test_diagnostics_files(tmp_path, image_root, source_checkpoint):
    work = str(tmp_path / 'w')
    runner = Runner.from_cfg(Config(make_cfg(work, image_root,
                                             source_checkpoint)))
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


def test_rotnet_trains_and_is_a_clusterfit_source(tmp_path, image_root):
    work = str(tmp_path / 'rot')
    cfg = make_cfg(work, image_root, None)
    cfg['model'] = dict(ROTNET, data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[0, 0, 0], std=[255, 255, 255]))
    cfg['custom_hooks'] = []
    cfg['train_dataloader']['dataset'] = dict(
        type='CustomDataset', data_root=image_root, ann_file='ann.txt',
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
    labels = cf_runner.train_dataloader.dataset.labels
    assert labels.shape == (NUM_IMAGES, ) and labels.max() < 3
