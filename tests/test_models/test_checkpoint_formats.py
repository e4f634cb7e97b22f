# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Sources from outside mmpretrain: VISSL trunks, torchvision ResNets and
the official MoCo v1 / v2 / v3 checkpoints, built in their own key layouts
(read from VISSL's, torchvision's and MoCo's code), read by the plugin and
checked against torchvision's own forward."""
import os.path as osp
import runpy
import sys

import pytest
import torch
import torchvision
from helpers import ROOT

from clusterfit_plugin.engine.extractor import forward_features
from clusterfit_plugin.engine.source import build_source_model
from clusterfit_plugin.models.checkpoint_formats import (convert_checkpoint,
                                                         detect_format)


def source_model(depth: int) -> dict:
    """mmpretrain's ImageNet ResNet classifier, as a recipe writes it."""
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='ResNet',
            depth=depth,
            num_stages=4,
            out_indices=(3, ),
            style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=1000,
            in_channels=512 if depth < 50 else 2048))


def torchvision_resnet(depth: int, seed: int) -> torch.nn.Module:
    """A torchvision ResNet with random weights and random BN statistics
    (so that a wrong mapping of any buffer shows in the features)."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, f'resnet{depth}')(weights=None)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return model.eval()


def torchvision_features(model: torch.nn.Module,
                         x: torch.Tensor) -> torch.Tensor:
    """torchvision's own forward up to the pooled features (before fc)."""
    with torch.no_grad():
        return torch.flatten(
            torch.nn.Sequential(*list(model.children())[:-1])(x), 1)


def moco_v2(query: dict, key: dict) -> dict:
    """facebookresearch/moco's checkpoint: model.state_dict() of MoCo under
    DDP (encoder_q / encoder_k with the MLP fc, queue, queue_ptr)."""
    state = {}
    for name, encoder in (('encoder_q', query), ('encoder_k', key)):
        for k, v in encoder.items():
            if not k.startswith('fc.'):
                state[f'module.{name}.{k}'] = v
        state[f'module.{name}.fc.0.weight'] = torch.randn(2048, 2048)
        state[f'module.{name}.fc.0.bias'] = torch.randn(2048)
        state[f'module.{name}.fc.2.weight'] = torch.randn(128, 2048)
        state[f'module.{name}.fc.2.bias'] = torch.randn(128)
    state['module.queue'] = torch.randn(128, 64)
    state['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
    return dict(
        epoch=200,
        arch='resnet50',
        state_dict=state,
        optimizer=dict(state={}, param_groups=[]))


def moco_v3(base: dict, momentum: dict) -> dict:
    """moco-v3's checkpoint: base_encoder / momentum_encoder with their
    projector fc, and the predictor."""
    state = {}
    for name, encoder in (('base_encoder', base), ('momentum_encoder',
                                                   momentum)):
        for k, v in encoder.items():
            if not k.startswith('fc.'):
                state[f'module.{name}.{k}'] = v
        state[f'module.{name}.fc.0.weight'] = torch.randn(64, 2048)
        state[f'module.{name}.fc.1.running_mean'] = torch.randn(64)
    state['module.predictor.0.weight'] = torch.randn(64, 64)
    return dict(
        epoch=100,
        arch='resnet50',
        state_dict=state,
        optimizer=dict(state={}, param_groups=[]),
        scaler={})


def vissl(trunk: dict) -> dict:
    """VISSL's checkpoint: classy_state_dict -> base_model -> model -> trunk
    as _feature_blocks.* (no fc), and a head."""
    blocks = {
        f'_feature_blocks.{k}': v
        for k, v in trunk.items() if not k.startswith('fc.')
    }
    return dict(
        phase_idx=104,
        iteration=1000,
        classy_state_dict=dict(
            base_model=dict(
                model=dict(
                    trunk=blocks,
                    heads={'0.clf.0.weight': torch.randn(16000, 2048)}),
                meta=dict()),
            train_phase_idx=104))


@pytest.fixture(scope='module')
def resnet50():
    return torchvision_resnet(50, seed=0)


@pytest.mark.parametrize('layout',
                         ['torchvision', 'moco_v2', 'moco_v3', 'vissl'])
def test_foreign_checkpoints_give_torchvision_features(tmp_path, resnet50,
                                                       layout, log,
                                                       monkeypatch, capsys):
    other = torchvision_resnet(50, seed=1).state_dict()
    state = resnet50.state_dict()
    checkpoint = dict(
        torchvision=lambda: state,
        moco_v2=lambda: moco_v2(state, other),
        moco_v3=lambda: moco_v3(state, other),
        vissl=lambda: vissl(state))[layout]()
    path = str(tmp_path / f'{layout}.pth')
    torch.save(checkpoint, path)
    fmt = layout.split('_')[0]
    assert detect_format(torch.load(path, weights_only=True)) == fmt

    x = torch.randn(2, 3, 64, 64)
    expected = torchvision_features(resnet50, x)
    model = build_source_model(
        dict(model=source_model(50), checkpoint=path, stage='backbone'))
    assert f"checkpoint_format='{fmt}', detected" in log()
    with torch.no_grad():
        got = forward_features(model, x, 'backbone')
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)

    # The same key map as a converter tool: a plain mmpretrain file.
    out = str(tmp_path / 'converted.pth')
    tool = osp.join(ROOT, 'tools', 'model_converters',
                    f'{fmt}_to_mmpretrain.py')
    monkeypatch.setattr(sys, 'argv', [tool, path, out])
    runpy.run_path(tool, run_name='__main__')
    assert f'({fmt} layout)' in capsys.readouterr().out
    converted = torch.load(out, weights_only=True)
    assert converted['meta']['checkpoint_format'] == fmt
    assert detect_format(converted) == 'mmpretrain'
    model = build_source_model(
        dict(
            model=source_model(50),
            checkpoint=out,
            checkpoint_format='mmpretrain',
            stage='backbone'))
    with torch.no_grad():
        torch.testing.assert_close(
            forward_features(model, x, 'backbone'),
            expected,
            rtol=1e-4,
            atol=1e-4)


def test_a_resnet18_and_its_classifier_head(tmp_path):
    """BasicBlock ResNets map too; torchvision's fc becomes head.fc, so the
    pre_logits stage (the head's input) is torchvision's pooled feature."""
    tv = torchvision_resnet(18, seed=2)
    path = str(tmp_path / 'tv18.pth')
    torch.save(tv.state_dict(), path)
    model = build_source_model(
        dict(model=source_model(18), checkpoint=path, stage='pre_logits'))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            forward_features(model, x, 'pre_logits'),
            torchvision_features(tv, x),
            rtol=1e-4,
            atol=1e-4)
        torch.testing.assert_close(
            model.head.fc.weight, tv.fc.weight, rtol=0, atol=0)


def test_wrong_or_unsupported_layouts_are_refused(tmp_path, resnet50):
    path = str(tmp_path / 'tv.pth')
    torch.save(resnet50.state_dict(), path)
    with pytest.raises(
            ValueError,
            match=r"given as checkpoint_format='moco'.*its keys are in "
            r"torchvision's ResNet.*checkpoint_format='torchvision'"):
        build_source_model(
            dict(
                model=source_model(50),
                checkpoint=path,
                checkpoint_format='moco'))
    # A ResNet-18 checkpoint for a ResNet-50 source: the layout is named,
    # not blamed on the user's architecture alone.
    torch.save(torchvision_resnet(18, seed=0).state_dict(), path)
    with pytest.raises(
            ValueError,
            match=r"read as torchvision's ResNet .* layout, does not fit"):
        build_source_model(dict(model=source_model(50), checkpoint=path))
    vit = {'module.base_encoder.patch_embed.proj.weight': torch.zeros(1)}
    torch.save(dict(state_dict=vit), path)
    with pytest.raises(ValueError, match='MoCo v3 vision transformer'):
        convert_checkpoint(path, str(tmp_path / 'out.pth'))
    assert not osp.exists(tmp_path / 'out.pth')
