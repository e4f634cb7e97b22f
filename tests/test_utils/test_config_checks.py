# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Config checks before the Runner: one K everywhere, no merged head or
dataset, Pretrained prefixes that match their file."""
import copy
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from helpers import cache_files, load_tool, make_cfg, run_runner
from mmengine.config import Config
from mmpretrain.registry import DATASETS, MODELS

from clusterfit_plugin.utils import check_config
from clusterfit_plugin.utils.config_checks import num_clusters_places

MIXUP = dict(
    num_classes=1000,
    batch_augments=dict(augments=[dict(type='Mixup', alpha=0.2)]))


def test_k_in_every_place_is_listed_and_must_agree(tmp_path):
    cfg = Config(make_cfg(str(tmp_path), str(tmp_path), 'x.pth'))
    cfg.data_preprocessor = dict(num_classes=3)
    cfg.train_dataloader.dataset.num_clusters = 3
    assert num_clusters_places(cfg) == [
        ('custom_hooks.0.num_clusters', 3), ('model.head.num_clusters', 3),
        ('data_preprocessor.num_classes', 3),
        ('train_dataloader.dataset.num_clusters', 3)
    ]
    check_config(cfg)
    cfg.model.data_preprocessor = copy.deepcopy(MIXUP)
    with pytest.raises(
            ValueError,
            match=r'K differs between custom_hooks\.0\.num_clusters=3, '
            r'model\.head\.num_clusters=3, model\.data_preprocessor\.'
            r'num_classes=1000, .*--num-clusters K'):
        check_config(cfg)


def test_train_py_refuses_a_leftover_num_classes(tmp_path):
    """A recipe's Mixup num_classes=1000 with K=3: tools/train.py stops
    before building the Runner."""
    cfg = Config(make_cfg(str(tmp_path), str(tmp_path), 'x.pth'))
    cfg.data_preprocessor = copy.deepcopy(MIXUP)
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    train = load_tool('train')
    with pytest.raises(ValueError, match='data_preprocessor.num_classes=1000'):
        train.merge_args(Config.fromfile(path), _args(train, path))
    # --num-clusters sets every place: then it passes.
    merged = train.merge_args(
        Config.fromfile(path), _args(train, path, '--num-clusters', '4'))
    assert {k for _, k in num_clusters_places(merged)} == {4}


def _args(train, path, *extra):
    """tools/train.py's parsed flags for ``train.py path *extra``."""
    argv = sys.argv
    sys.argv = ['train.py', path, *extra]
    try:
        return train.parse_args()
    finally:
        sys.argv = argv


def test_the_hook_refuses_a_preprocessor_k_before_extraction(
        tmp_path, image_root, source_checkpoint):
    """Without tools/train.py (mim, a script), the hook itself stops before
    extracting; the old main failed at the first iteration with '0D or 1D
    target tensor expected', after the whole clustering."""
    work = str(tmp_path / 'w')
    cfg = make_cfg(work, image_root, source_checkpoint)
    cfg['model']['data_preprocessor'] = copy.deepcopy(MIXUP)
    with pytest.raises(
            ValueError,
            match=r'data preprocessor has num_classes=1000 but the '
            r'clustering has num_clusters=3 \(its batch augments'):
        run_runner(cfg)
    assert 'labels.npy' not in cache_files(work)


def test_label_file_manifest_k_is_checked(tmp_path):
    labels = str(tmp_path / 'labels.npy')
    np.save(labels, np.zeros(5, dtype=np.int64))
    with open(tmp_path / 'manifest.json', 'w') as f:
        json.dump(dict(num_clusters=50), f)
    cfg = Config(make_cfg(str(tmp_path), str(tmp_path), 'x.pth'))
    cfg.custom_hooks = []
    cfg.train_dataloader.dataset.label_file = labels
    with pytest.raises(
            ValueError,
            match=r'model\.head\.num_clusters=3, the manifest beside '
            r'label_file=.*labels\.npy=50'):
        check_config(cfg)


def test_a_merged_head_gets_the_delete_hint(tmp_path):
    cfg = Config(make_cfg(str(tmp_path), str(tmp_path), 'x.pth'))
    cfg.model.head = dict(
        type='LinearClsHead', num_classes=10, in_channels=32, num_clusters=3)
    with pytest.raises(ValueError, match=r'_delete_=True'):
        check_config(cfg)
    with pytest.raises(
            ValueError,
            match=r'num_classes=10 beside '
            r'num_clusters=3.*_delete_=True'):
        MODELS.build(
            dict(
                type='ClusterFitHead',
                num_clusters=3,
                num_classes=10,
                in_channels=8))


def test_a_merged_dataset_gets_the_delete_hint(image_root):
    with pytest.raises(
            ValueError,
            match=r"ClusterFitDataset got \['ann_file', 'data_root'\].*"
            '_delete_=True'):
        DATASETS.build(
            dict(
                type='ClusterFitDataset',
                data_root=image_root,
                ann_file='ann.txt',
                dataset=dict(
                    type='CustomDataset',
                    data_root=image_root,
                    ann_file='ann.txt')))


def test_float_labels_are_refused(image_root):
    dataset = DATASETS.build(
        dict(
            type='ClusterFitDataset',
            dataset=dict(
                type='CustomDataset', data_root=image_root,
                ann_file='ann.txt')))
    with pytest.raises(TypeError, match='float64 labels'):
        dataset.set_labels(np.full(len(dataset), 1.7))


def test_pretrained_prefixes_must_match_the_file(tmp_path):
    prefixed = str(tmp_path / 'prefixed.pth')
    bare = str(tmp_path / 'bare.pth')
    weights = {'conv1.weight': torch.zeros(1), 'bn1.bias': torch.zeros(1)}
    torch.save(
        dict(state_dict={
            f'backbone.{k}': v
            for k, v in weights.items()
        }), prefixed)
    torch.save(dict(state_dict=weights), bare)
    cfg = Config(make_cfg(str(tmp_path), str(tmp_path), 'x.pth'))

    def with_init(checkpoint, **prefix):
        out = copy.deepcopy(cfg)
        out.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=checkpoint, **prefix)
        return out

    with pytest.raises(
            ValueError,
            match=r'model\.backbone\.init_cfg loads .*prefixed\.pth without '
            r"prefix, but every key of that file starts with 'backbone\.'.*"
            r"Add prefix='backbone\.'"):
        check_config(with_init(prefixed))
    with pytest.raises(
            ValueError,
            match=r"prefix='backbone\.', but no key of that "
            r"file starts with it \(its keys start with \['bn1', 'conv1'\]"):
        check_config(with_init(bare, prefix='backbone.'))
    check_config(with_init(prefixed, prefix='backbone.'))
    check_config(with_init(bare))
    check_config(with_init(osp.join(str(tmp_path), 'absent.pth')))
