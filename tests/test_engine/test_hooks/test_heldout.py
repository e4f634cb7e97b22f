# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""A ClusterFitDataset in val_dataloader is labelled with the training
clusters' nearest centroid (VISSL's TEST_PARTITION), so the Runner reports
cluster-prediction accuracy on held-out images; labels checked against a
reference built outside the plugin, and the settings it cannot honour
refused before any work."""
import copy
import os.path as osp

import numpy as np
import pytest
from helpers import (PIPELINE, SOURCE_MODEL, TESTS, cache_files, dist_train,
                     make_cfg, run_runner)
from mmpretrain.registry import DATASETS

from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.source import build_source_model


def with_validation(cfg: dict, ann_file: str = 'ann.txt') -> dict:
    """``cfg`` validating on a ClusterFitDataset of ``ann_file`` each
    epoch, scored by mmpretrain's Accuracy."""
    val = copy.deepcopy(cfg['train_dataloader'])
    val['sampler'] = dict(type='DefaultSampler', shuffle=False)
    val['dataset']['dataset']['ann_file'] = ann_file
    cfg.update(
        val_dataloader=val,
        val_cfg=dict(),
        val_evaluator=dict(type='Accuracy', topk=(1, )))
    cfg['train_cfg']['val_interval'] = 1
    return cfg


def nearest_centroid_labels(image_root, source_checkpoint, centroids,
                            ann_file):
    """Nearest centroid of each sample's L2-normalised source features,
    with numpy: no plugin code in the assignment."""
    dataset = DATASETS.build(
        dict(
            type='CustomDataset',
            data_root=image_root,
            ann_file=ann_file,
            pipeline=PIPELINE))
    model = build_source_model(
        dict(
            model=SOURCE_MODEL, checkpoint=source_checkpoint,
            stage='backbone'))
    x = extract_features(
        model,
        dataset,
        PIPELINE,
        np.arange(len(dataset)),
        'backbone',
        num_workers=0,
        progress=False).astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    dist = ((x[:, None, :] - centroids[None].astype(np.float64))**2).sum(-1)
    return dist.argmin(1)


def test_validation_split_gets_the_nearest_training_centroid(
        tmp_path, image_root, source_checkpoint):
    # A held-out list: the second half of the images, in reverse order.
    with open(osp.join(image_root, 'ann.txt')) as f:
        lines = f.readlines()
    heldout = 'heldout.txt'
    with open(osp.join(image_root, heldout), 'w') as f:
        f.writelines(lines[len(lines) // 2:][::-1])
    work = str(tmp_path / 'run')
    runner = run_runner(
        with_validation(
            make_cfg(work, image_root, source_checkpoint), heldout))
    centroids = np.load(osp.join(work, 'clusterfit', 'centroids.npy'))
    val = runner.val_dataloader.dataset
    got = np.array(
        [val[i]['data_samples'].gt_label.item() for i in range(len(val))])
    expected = nearest_centroid_labels(image_root, source_checkpoint,
                                       centroids, heldout)
    np.testing.assert_array_equal(got, expected)
    # The same images in the training set got the same clusters there.
    train = runner.train_dataloader.dataset
    names = [osp.basename(line.split()[0]) for line in lines]
    for i, line in enumerate(lines[len(lines) // 2:][::-1]):
        j = names.index(osp.basename(line.split()[0]))
        assert train.labels[j] == got[i]
    # The Runner reported cluster-prediction accuracy on the held-out split.
    top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    assert 0 <= top1 <= 100


@pytest.mark.parametrize('overrides, message', [
    (dict(interval=1), 'interval=1 with a ClusterFitDataset in '
     'val_dataloader'),
    (dict(pca=dict(dim=8)), 'pca with a ClusterFitDataset in val_dataloader'),
])
def test_what_cannot_be_honoured_is_refused_first(tmp_path, image_root,
                                                  source_checkpoint, overrides,
                                                  message):
    work = str(tmp_path / 'run')
    cfg = with_validation(
        make_cfg(work, image_root, source_checkpoint, **overrides))
    with pytest.raises(ValueError, match=f'ClusterFitHook: {message}'):
        run_runner(cfg)
    assert 'labels.npy' not in cache_files(work)


def test_a_held_out_split_smaller_than_k_is_labelled(tmp_path, image_root,
                                                     source_checkpoint):
    """K only bounds the training set: two held-out images and K=3."""
    with open(osp.join(image_root, 'ann.txt')) as f:
        lines = f.readlines()[:2]
    with open(osp.join(image_root, 'two.txt'), 'w') as f:
        f.writelines(lines)
    work = str(tmp_path / 'run')
    runner = run_runner(
        with_validation(
            make_cfg(work, image_root, source_checkpoint), 'two.txt'))
    centroids = np.load(osp.join(work, 'clusterfit', 'centroids.npy'))
    assert len(centroids) == 3
    val = runner.val_dataloader.dataset
    np.testing.assert_array_equal(
        [val[i]['data_samples'].gt_label.item() for i in range(2)],
        nearest_centroid_labels(image_root, source_checkpoint, centroids,
                                'two.txt'))


@pytest.mark.slow
def test_two_processes_label_the_held_out_split_alike(tmp_path, image_root,
                                                      source_checkpoint):
    """torchrun, 2 gloo processes: rank 0 labels the held-out split and
    both ranks validate on those labels (what each rank's val pipeline saw
    is recorded)."""
    work, served = str(tmp_path / 'run'), str(tmp_path / 'served.txt')
    cfg = with_validation(make_cfg(work, image_root, source_checkpoint))
    cfg['custom_imports']['imports'].append('transforms_for_tests')
    cfg['val_dataloader']['dataset']['dataset']['pipeline'] = [
        dict(type='LoadImageFromFile'),
        dict(type='RecordLabel', out=served),
        dict(type='PackInputs')
    ]
    proc = dist_train(cfg, tmp_path, PYTHONPATH=TESTS)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    centroids = np.load(osp.join(work, 'clusterfit', 'centroids.npy'))
    expected = nearest_centroid_labels(image_root, source_checkpoint,
                                       centroids, 'ann.txt')
    with open(osp.join(image_root, 'ann.txt')) as f:
        names = [osp.basename(line.split()[0]) for line in f]
    pids, seen = set(), {}
    with open(served) as f:
        for line in f:
            pid, name, label = line.split()
            pids.add(pid)
            seen[name] = int(label)
    assert len(pids) == 2  # both ranks validated
    assert seen == {name: int(expected[i]) for i, name in enumerate(names)}
