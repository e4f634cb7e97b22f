# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""ClusterFitDataset: label injection, label files, shared-memory labels."""
import os

import numpy as np
import pytest
import torch
import transforms_for_tests  # noqa: F401  (registers RecordLabel)
from helpers import NUM_IMAGES, PIPELINE
from mmpretrain.registry import DATASETS
from torch.utils.data import DataLoader

from clusterfit_plugin.datasets import ClusterFitDataset


def inner_cfg(image_root):
    return dict(
        type='CustomDataset',
        data_root=image_root,
        ann_file='ann.txt',
        pipeline=PIPELINE)


def build(image_root, **kwargs):
    return DATASETS.build(
        dict(
            type='ClusterFitDataset', dataset=inner_cfg(image_root), **kwargs))


def _labels_of_batch(batch):
    return [int(s.gt_label) for s in batch['data_samples']]


def test_injects_cluster_ids_as_python_int(image_root):
    ds = build(image_root)
    assert len(ds) == NUM_IMAGES
    with pytest.raises(RuntimeError, match='add ClusterFitHook'):
        ds[0]
    labels = (np.arange(NUM_IMAGES) * 7) % 5
    ds.set_labels(labels, num_clusters=5)
    assert ds.metainfo['classes'] == tuple(f'cluster_{i}' for i in range(5))
    for i in (0, 3, 44):
        sample = ds[i]['data_samples']
        assert sample.gt_label.tolist() == [int(labels[i])]
        assert type(ds.get_data_info(i)['gt_label']) is int
    assert ds[0]['inputs'].shape == (3, 16, 16)


def test_label_file(image_root, tmp_path):
    path = str(tmp_path / 'labels.npy')
    labels = np.arange(NUM_IMAGES, dtype=np.int64) % 4
    np.save(path, labels)
    ds = build(image_root, label_file=path)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.num_clusters is None and ds[5]['data_samples'].gt_label == 1


@pytest.mark.parametrize('content, match', [
    (np.arange(NUM_IMAGES - 1), r'has 44 labels but the wrapped dataset has '
     r'45 samples'),
    (np.zeros((NUM_IMAGES, 2), np.int64), 'expected a 1-D integer array'),
    (np.zeros(NUM_IMAGES, np.float32), 'expected a 1-D integer array'),
    (np.full(NUM_IMAGES, -1), r'range over \[-1, -1\]'),
])
def test_bad_label_files(image_root, tmp_path, content, match):
    path = str(tmp_path / 'bad.npy')
    np.save(path, content)
    with pytest.raises(ValueError, match=match) as err:
        build(image_root, label_file=path)
    assert path in str(err.value)


def test_label_file_out_of_range_and_missing(image_root, tmp_path):
    path = str(tmp_path / 'l.npy')
    np.save(path, np.arange(NUM_IMAGES))
    with pytest.raises(
            ValueError, match=r'\[0, 44\] but must lie in '
            r'\[0, 10\)'):
        build(image_root, label_file=path, num_clusters=10)
    missing = str(tmp_path / 'nope.npy')
    with pytest.raises(FileNotFoundError, match='nope.npy'):
        build(image_root, label_file=missing)


def test_persistent_workers_see_new_labels(image_root, tmp_path):
    """Labels changed in the main process reach live persistent workers:
    one worker process (recorded by the pipeline itself) serves both
    epochs, the second with the new labels."""
    from mmengine.dataset import default_collate
    record = str(tmp_path / 'served.txt')
    inner = dict(
        inner_cfg(image_root),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RecordLabel', out=record),
            dict(type='PackInputs')
        ])
    ds = DATASETS.build(dict(type='ClusterFitDataset', dataset=inner))
    ds.set_labels(np.zeros(NUM_IMAGES, np.int64), num_clusters=3)
    loader = DataLoader(
        ds,
        batch_size=NUM_IMAGES,
        num_workers=1,
        persistent_workers=True,
        collate_fn=default_collate)
    first = next(iter(loader))
    assert set(_labels_of_batch(first)) == {0}
    new = np.arange(NUM_IMAGES) % 3
    ds.set_labels(new)
    second = next(iter(loader))
    assert _labels_of_batch(second) == new.tolist()
    lines = [line.split() for line in open(record)]
    assert len(lines) == 2 * NUM_IMAGES
    pids = {pid for pid, _, _ in lines}
    assert len(pids) == 1 and int(pids.pop()) != os.getpid()
    served = [int(label) for _, _, label in lines[NUM_IMAGES:]]
    assert served == new.tolist()


def test_requires_mmengine_dataset():
    with pytest.raises(TypeError, match='has no'):
        ClusterFitDataset(torch.utils.data.TensorDataset(torch.zeros(3)))
