# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Models built from a config by the plugin are the Runner's models."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from helpers import ROOT
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS

from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.source import (build_source_model,
                                             load_source_config)
from clusterfit_plugin.models.builder import (load_config,
                                              model_cfg_from_config,
                                              strip_pretrained_init)

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]

DEMO_SOURCES = [
    'configs/demo/noisy-label_resnet18-mini_mnist5k.py',
    'configs/demo/simclr_resnet18-mini_mnist5k.py',
    'configs/demo/rotnet_resnet18-mini_mnist5k.py',
    'configs/demo/clusterfit_resnet18-mini_mnist5k.py',
]

STOCK_SOURCES = [
    'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
    'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py',
    'mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py',
    'mmpretrain::mocov3/mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py',
]


def colour_dataset(root: str, size: int, num: int = 4):
    """``num`` random colour images (channel order matters on them), as an
    unlabelled CustomDataset loaded by :data:`PIPELINE`."""
    rng = np.random.default_rng(1)
    lines = []
    for i in range(num):
        img = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        img[:, :, 0] //= 4  # blue and red differ: a swap is visible
        cv2.imwrite(osp.join(root, f'{i}.png'), img)
        lines.append(f'{i}.png\n')
    with open(osp.join(root, 'ann.txt'), 'w') as f:
        f.writelines(lines)
    return DATASETS.build(
        dict(
            type='CustomDataset',
            data_root=root,
            ann_file='ann.txt',
            with_label=False,
            pipeline=PIPELINE))


def runner_model(config: str, work_dir: str) -> torch.nn.Module:
    """The model the stock Runner builds from ``config``."""
    cfg = load_config(osp.join(ROOT, config) if '::' not in config else config)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return Runner.from_cfg(cfg).model.eval()


def preprocessing(model) -> dict:
    pre = model.data_preprocessor
    return dict(
        type=type(pre).__name__,
        mean=pre.mean.reshape(-1).tolist(),
        std=pre.std.reshape(-1).tolist(),
        to_rgb=bool(
            getattr(pre, 'to_rgb', None)
            or getattr(pre, '_channel_conversion', None)))


@pytest.mark.parametrize(
    'config', DEMO_SOURCES +
    [pytest.param(c, marks=pytest.mark.slow) for c in STOCK_SOURCES])
def test_built_like_the_runner(config, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    size = 224 if 'vit' in config else 64
    dataset = colour_dataset(str(tmp_path), size)
    torch.manual_seed(0)
    reference = runner_model(config, str(tmp_path / 'runner'))
    checkpoint = str(tmp_path / 'weights.pth')
    torch.save(dict(state_dict=reference.state_dict()), checkpoint)

    model = build_source_model(
        dict(config=config, checkpoint=checkpoint, stage='backbone'))
    assert preprocessing(model) == preprocessing(reference)
    if '::' in config:  # the stock recipes normalise ImageNet's RGB
        assert preprocessing(model)['to_rgb']
        assert preprocessing(model)['mean'] == pytest.approx(
            [123.675, 116.28, 103.53])

    feats = extract_features(
        model,
        dataset,
        PIPELINE,
        np.arange(len(dataset)),
        'backbone',
        batch_size=2,
        num_workers=0,
        progress=False)
    batch = [dataset[i] for i in range(len(dataset))]
    with torch.no_grad():
        data = reference.data_preprocessor(default_collate(batch), False)
        out = reference.backbone(data['inputs'])[-1]
        want = out.mean((2, 3)) if out.dim() == 4 else out
    assert feats.shape == tuple(want.shape)
    np.testing.assert_allclose(feats, want.numpy(), rtol=1e-4, atol=1e-5)


def test_top_level_preprocessor_is_merged_and_model_entry_wins():
    cfg = Config(
        dict(
            model=dict(
                type='ImageClassifier',
                init_cfg=dict(type='Pretrained', checkpoint='x.pth')),
            data_preprocessor=dict(mean=[1., 2., 3.], std=[4., 5., 6.])))
    model = model_cfg_from_config(cfg)
    assert model['data_preprocessor'] == dict(
        mean=[1., 2., 3.], std=[4., 5., 6.])
    assert 'init_cfg' not in model
    cfg.model['data_preprocessor'] = dict(mean=[0.] * 3, std=[1.] * 3)
    assert model_cfg_from_config(cfg)['data_preprocessor']['mean'] == [0.] * 3


def test_pretrained_init_is_stripped_at_any_depth_others_kept():
    cfg = dict(
        backbone=dict(init_cfg=[
            dict(type='Kaiming', layer='Conv2d'),
            dict(type='Pretrained', checkpoint='https://weights.pth')
        ]),
        neck=dict(init_cfg=dict(type='Pretrained', checkpoint='n.pth')),
        head=dict(init_cfg=dict(type='Normal', std=0.01)))
    strip_pretrained_init(cfg)
    assert cfg == dict(
        backbone=dict(init_cfg=[dict(type='Kaiming', layer='Conv2d')]),
        neck=dict(),
        head=dict(init_cfg=dict(type='Normal', std=0.01)))


def test_builder_refuses_a_preprocessor_that_does_not_normalise():
    source = dict(
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=4),
            neck=dict(type='GlobalAveragePooling'),
            data_preprocessor=dict(
                type='BaseDataPreprocessor', mean=[1.], std=[2.])),
        checkpoint=None,
        stage='backbone')
    with pytest.raises((TypeError, ValueError)):
        build_source_model(source)


def test_missing_config_names_the_file():
    with pytest.raises(
            FileNotFoundError, match=r"config 'nope/x\.py' does "
            'not exist'):
        load_source_config(dict(config='nope/x.py', checkpoint=None))
