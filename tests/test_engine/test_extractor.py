# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Feature extraction: resumable after a kill, masked-image-modelling backbones
run unmasked, outputs that are not features refused."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import transforms_for_tests  # noqa: F401
from helpers import (NUM_IMAGES, PIPELINE, all_features, image_dataset,
                     kill_when, make_cfg, run_runner, tiny_source)
from mmengine.dataset import default_collate
from mmpretrain.registry import DATASETS

from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.source import build_source_model


@pytest.mark.slow
def test_interrupted_extraction_resumes(tmp_path, image_root,
                                        source_checkpoint):
    work = str(tmp_path / 'w')
    cfg = make_cfg(
        work,
        image_root,
        source_checkpoint,
        features=dict(storage='disk', flush_every=8),
        extract_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='SlowDown', seconds=0.05),
            dict(type='PackInputs')
        ])
    cfg['custom_imports'] = dict(
        imports=['clusterfit_plugin', 'transforms_for_tests'])
    kill_when(cfg, tmp_path, 'extracting', 1.6)
    store_dir = osp.join(work, 'clusterfit', 'features')
    progress = [f for f in os.listdir(store_dir) if f.endswith('.json')]
    assert len(progress) == 1
    done = json.load(open(osp.join(store_dir, progress[0])))['rows_done']
    assert 0 < done < NUM_IMAGES
    assert not osp.exists(osp.join(work, 'clusterfit', 'manifest.json'))

    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        run_runner(cfg)
    assert f'resuming after {done} rows already on disk' in buf.getvalue()
    reference = str(tmp_path / 'ref')
    cfg_ref = make_cfg(reference, image_root, source_checkpoint)
    run_runner(cfg_ref)
    np.testing.assert_array_equal(
        np.load(osp.join(work, 'clusterfit', 'labels.npy')),
        np.load(osp.join(reference, 'clusterfit', 'labels.npy')))


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


@pytest.mark.slow
def test_mae_runs_unmasked_and_its_neck_is_refused(tmp_path):
    """MAE's backbone at stage 'backbone' gives image features (the mean of
    its unmasked tokens), not its random patch order; its neck (the pixel
    decoder) is refused with a clear message."""
    config = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
    dataset = colour_dataset(str(tmp_path), 224, num=2)
    torch.manual_seed(0)
    model = build_source_model(
        dict(config=config, checkpoint=None, stage='backbone'))
    feats = extract_features(
        model,
        dataset,
        PIPELINE,
        np.arange(2),
        'backbone',
        batch_size=2,
        num_workers=0,
        progress=False)
    assert feats.dtype == np.float32 and feats.shape == (2, 768)
    batch = [dataset[i] for i in range(2)]
    with torch.no_grad():
        data = model.data_preprocessor(default_collate(batch), False)
        tokens = model.backbone(data['inputs'], mask=None)[-1]
    assert tokens.shape == (2, 197, 768)  # all patches and the cls token
    np.testing.assert_allclose(
        feats, tokens.mean(1).numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(
            ValueError,
            match=r"stage='neck': MAE is a masked-"
            r"image-modelling source.*stage='backbone'"):
        build_source_model(dict(config=config, checkpoint=None, stage='neck'))


@pytest.mark.slow
def test_mocov3_vit_neck_features(tmp_path):
    config = ('mmpretrain::mocov3/'
              'mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py')
    dataset = colour_dataset(str(tmp_path), 224, num=2)
    model = build_source_model(
        dict(config=config, checkpoint=None, stage='neck'))
    feats = extract_features(
        model,
        dataset,
        PIPELINE,
        np.arange(2),
        'neck',
        batch_size=2,
        num_workers=0,
        progress=False)
    assert feats.shape == (2, 256) and np.isfinite(feats).all()


@pytest.mark.parametrize('output, message', [
    (lambda x: torch.zeros(len(x), 7, dtype=torch.long), 'torch.int64'),
    (lambda x: torch.zeros(len(x) + 1, 7), r'shape \(3, 7\).*for 2 inputs'),
    (lambda x: {
        'a': x
    }, 'returned dict, not a feature tensor'),
])
def test_non_feature_outputs_are_refused(output, message, tmp_path):
    """What a backbone returns that is not (N, D) floating-point features is
    an error naming the model and stage, not clustered."""
    dataset = colour_dataset(str(tmp_path), 16, num=2)
    model = build_source_model(
        dict(
            model=dict(
                type='ImageClassifier',
                backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=4)),
            checkpoint=None,
            stage='backbone'))
    model.backbone.forward = output
    with pytest.raises(
            ValueError,
            match=r"ImageClassifier at stage 'backbone'.*" + message):
        extract_features(
            model,
            dataset,
            PIPELINE,
            np.arange(2),
            'backbone',
            batch_size=2,
            num_workers=0,
            progress=False)


def test_channels_last_on_the_cpu_gives_the_same_features(
        image_root, source_checkpoint):
    dataset = image_dataset(image_root)
    feats = {}
    for channels_last in (False, True):
        model = tiny_source(source_checkpoint)
        feats[channels_last] = all_features(
            model, dataset, channels_last=channels_last)
        # The option took effect (the weights are in the channels-last
        # layout), and changed nothing but the layout.
        assert model.backbone.conv1.weight.is_contiguous(
            memory_format=torch.channels_last) == channels_last
    np.testing.assert_allclose(feats[True], feats[False], rtol=1e-4, atol=1e-5)
