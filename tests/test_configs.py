# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Every shipped config builds, and every CPU-sized one trains.

The configs are used as shipped, from a workspace that holds tiny data at
their data paths (generated images and mp4 clips in the MNIST-5k,
moving-digits, ImageNet, Kinetics, UCF101, HMDB51 and CIFAR-10 layouts)
and randomly initialised checkpoints at the paths they name. Each config's
model, train / val / test datasets and custom hooks are built the Runner's
way, each ClusterFitHook's source is built with its checkpoint; each
CPU-sized config then runs one training iteration through
``tools/train.py``'s own argument handling and the stock Runner, with only
batch size, workers, epochs and K (``--num-clusters``) changed.
"""
import glob
import os
import os.path as osp
import pickle
import sys

import benchmark_layouts
import cv2
import numpy as np
import pytest
import torch
from helpers import ROOT, load_tool
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, HOOKS

from clusterfit_plugin.engine.source import build_source_model
from clusterfit_plugin.models.builder import (build_model_from_cfg,
                                              model_cfg_from_config)
from clusterfit_plugin.utils import set_num_clusters

# The transfer benchmarks' data configs have no model: their own tests
# (tests/test_evaluation/test_benchmark_suite.py) build them.
CONFIGS = sorted(
    osp.relpath(p, ROOT) for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and 'benchmarks/transfer' not in p)
# Two-line configs that give a recipe of configs/clusterfit/ a short name.
SHORT_NAMES = {
    'configs/clusterfit_r50.py':
    'configs/clusterfit/clusterfit_resnet50_8xb32-105e_in1k.py',
    'configs/clusterfit_r2plus1d_34.py':
    'configs/clusterfit/clusterfit_r2plus1d-34_8xb16-45e_kinetics400.py'
}
# Configs whose training fits a CPU test (the paper-scale ones only build).
CPU_SIZED = [
    c for c in CONFIGS
    if 'mnist5k' in c or 'moving-digits' in c or 'cifar10' in c
]
NUM_TRAIN = 16  # samples in most tiny training sets (CIFAR-10: 20)
NUM_CLUSTERS = 4


def write_image(path: str, rng, size: int) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def write_lines(path: str, lines) -> None:
    with open(path, 'w') as f:
        f.writelines(f'{line}\n' for line in lines)


def make_data(root: str) -> None:
    """Tiny data at every data path the shipped configs read."""
    rng = np.random.default_rng(0)
    # MNIST-5k layout (tools/demo/prepare_mnist.py).
    mnist = osp.join(root, 'data', 'mnist5k')
    names = [f'images/{i:05d}.png' for i in range(NUM_TRAIN + 4)]
    for name in names:
        write_image(osp.join(mnist, name), rng, 28)
    train = [f'{n} {i % 10}' for i, n in enumerate(names[:NUM_TRAIN])]
    write_lines(osp.join(mnist, 'train.txt'), train)
    write_lines(osp.join(mnist, 'train_noisy40.txt'), train)
    write_lines(
        osp.join(mnist, 'test.txt'),
        [f'{n} {i}' for i, n in enumerate(names[NUM_TRAIN:])])
    # Moving digits (tools/demo/make_moving_digits.py): 20 train clips.
    load_tool('demo/make_moving_digits').make_moving_digits(
        osp.join(root, 'data', 'moving_digits'),
        train_per_class=2,
        test_per_class=1,
        num_frames=8)
    clips = sorted(
        glob.glob(
            osp.join(root, 'data', 'moving_digits', 'videos', 'train',
                     '*.mp4')))
    # Kinetics-400 lists (mmaction2's layout).
    kinetics = osp.join(root, 'data', 'kinetics400')
    for split in ('train', 'val'):
        os.makedirs(osp.join(kinetics, f'videos_{split}'), exist_ok=True)
        lines = []
        for i, clip in enumerate(clips[:NUM_TRAIN]):
            os.symlink(clip, osp.join(kinetics, f'videos_{split}', f'{i}.mp4'))
            lines.append(f'{i}.mp4 {i % 400}')
        write_lines(
            osp.join(kinetics, f'kinetics400_{split}_list_videos.txt'), lines)
    # UCF101 and HMDB51 in their official layouts (the fine-tuning configs).
    benchmark_layouts.ucf101(osp.join(root, 'data', 'ucf101'))
    benchmark_layouts.hmdb51(osp.join(root, 'data', 'hmdb51'))
    # ImageNet (mmpretrain's layout with meta/ lists).
    imagenet = osp.join(root, 'data', 'imagenet')
    os.makedirs(osp.join(imagenet, 'meta'))
    for split in ('train', 'val'):
        lines = []
        for i in range(NUM_TRAIN):
            name = f'n{i:08d}/{i}.JPEG' if split == 'train' else f'{i}.JPEG'
            write_image(osp.join(imagenet, split, name), rng, 40)
            lines.append(f'{name} {i}')
        write_lines(osp.join(imagenet, 'meta', f'{split}.txt'), lines)
    # CIFAR-10 python batches (its md5 check is patched in the tests).
    cifar = osp.join(root, 'data', 'cifar10', 'cifar-10-batches-py')
    os.makedirs(cifar)
    batches = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    per_batch = NUM_TRAIN // 4
    for name in batches:
        with open(osp.join(cifar, name), 'wb') as f:
            pickle.dump(
                dict(
                    data=rng.integers(
                        0, 256, (per_batch, 3072), dtype=np.uint8),
                    labels=list(range(per_batch))), f)
    with open(osp.join(cifar, 'batches.meta'), 'wb') as f:
        pickle.dump(dict(label_names=[f'c{i}' for i in range(10)]), f)


def pretrained_paths(cfg) -> list:
    """Checkpoint files named by ``Pretrained`` init_cfg entries."""
    found = []
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        for entry in init if isinstance(init, list) else [init]:
            if isinstance(entry, dict) and entry.get('type') == 'Pretrained':
                found.append(entry['checkpoint'])
        for value in cfg.values():
            found += pretrained_paths(value)
    elif isinstance(cfg, list):
        for value in cfg:
            found += pretrained_paths(value)
    return found


def make_checkpoints(cfg: Config, pretrained: bool = False) -> None:
    """Random-init checkpoints at the paths ``cfg`` names (cwd-relative):
    each ClusterFitHook source's and, with ``pretrained``, those of the
    model's ``Pretrained`` init_cfg entries."""
    wanted = []
    for hook in cfg.get('custom_hooks', []):
        source = hook.get('source') or {}
        if source.get('checkpoint'):
            wanted.append((source['checkpoint'], source))
    model_cfg = cfg.model.to_dict()
    for path in pretrained_paths(model_cfg) if pretrained else []:
        wanted.append((path, dict(model=model_cfg, stage='backbone')))
    for path, source in wanted:
        if osp.exists(path):
            continue
        torch.manual_seed(0)
        model = build_source_model(
            dict(source, checkpoint=None, init='random', init_seed=0))
        os.makedirs(osp.dirname(path) or '.', exist_ok=True)
        torch.save(dict(state_dict=model.state_dict()), path)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('workspace'))
    os.symlink(osp.join(ROOT, 'configs'), osp.join(root, 'configs'))
    make_data(root)
    return root


@pytest.fixture
def in_workspace(workspace, monkeypatch):
    from mmpretrain.datasets import CIFAR10
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)
    monkeypatch.chdir(workspace)
    return workspace


def test_configs_found():
    assert {
        'configs/benchmarks/linear-probe_clusterfit-r50_in1k.py',
        'configs/clusterfit_resnet18_8xb16_cifar10.py'
    } | set(SHORT_NAMES) | set(SHORT_NAMES.values()) <= set(CONFIGS)
    assert len(CPU_SIZED) == 9


@pytest.mark.parametrize('short', sorted(SHORT_NAMES))
def test_short_names_are_their_recipes(short):
    """A short name is its recipe, value for value (OpenMMLab's names in
    configs/clusterfit/, the names users type at the top)."""
    alias = Config.fromfile(osp.join(ROOT, short)).to_dict()
    recipe = Config.fromfile(osp.join(ROOT, SHORT_NAMES[short])).to_dict()
    assert alias == recipe


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path, in_workspace):
    cfg = Config.fromfile(path)
    make_checkpoints(cfg)
    model = build_model_from_cfg(model_cfg_from_config(cfg))
    assert sum(p.numel() for p in model.parameters()) > 0
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(field):
                assert len(DATASETS.build(cfg[field].dataset)) > 0
        for hook_cfg in cfg.get('custom_hooks', []):
            hook = HOOKS.build(hook_cfg)
            if type(hook).__name__ == 'ClusterFitHook':
                assert model.head.num_clusters == hook.num_clusters
                source = build_source_model(hook.pipeline.source)
                assert not source.training


@pytest.mark.slow
@pytest.mark.parametrize('path', CPU_SIZED)
def test_config_trains_one_iteration(path, in_workspace, monkeypatch):
    """One training iteration through tools/train.py's argument handling."""
    cfg = Config.fromfile(path)
    make_checkpoints(cfg, pretrained=True)
    train = load_tool('train')
    argv = [path, '--work-dir', osp.join(in_workspace, 'work', path)]
    clusterfit_hooks = [
        i for i, hook in enumerate(cfg.get('custom_hooks', []))
        if hook.type == 'ClusterFitHook'
    ]
    if clusterfit_hooks:
        argv += ['--num-clusters', str(NUM_CLUSTERS)]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        num_train = len(DATASETS.build(cfg.train_dataloader.dataset))
    options = [
        f'train_dataloader.batch_size={num_train}',
        'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1'
    ] + [f'custom_hooks.{i}.num_workers=0' for i in clusterfit_hooks]
    monkeypatch.setattr(sys, 'argv',
                        ['train.py'] + argv + ['--cfg-options'] + options)
    cfg = train.merge_args(cfg, train.parse_args())
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0
    if clusterfit_hooks:
        labels = np.load(osp.join(cfg.work_dir, 'clusterfit', 'labels.npy'))
        assert labels.shape == (num_train, )
        np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                      labels)


def test_num_clusters_sets_k_everywhere(tmp_path):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'clusterfit_resnet18_8xb16_cifar10.py'))
    set_num_clusters(cfg, 7)
    assert cfg.custom_hooks[0].num_clusters == 7
    assert cfg.model.head.num_clusters == 7
    assert cfg.data_preprocessor.num_classes == 7
    assert cfg.num_clusters == 7
    (tmp_path /
     'plain.py').write_text("model = dict(head=dict(type='LinearClsHead'))\n")
    plain = Config.fromfile(str(tmp_path / 'plain.py'))
    with pytest.raises(
            ValueError,
            match='plain.py: --num-clusters needs a '
            'ClusterFitHook or a ClusterFitHead'):
        set_num_clusters(plain, 7)


def test_auto_scale_lr_works_on_every_trainable_config(monkeypatch):
    train = load_tool('train')
    for path in CPU_SIZED:
        monkeypatch.setattr(sys, 'argv', ['train.py', path, '--auto-scale-lr'])
        cfg = train.merge_args(
            Config.fromfile(osp.join(ROOT, path)), train.parse_args())
        assert cfg.auto_scale_lr.enable
        if 'cifar10' not in path:  # the stock recipe's is 8 GPUs x 16
            assert cfg.auto_scale_lr.base_batch_size == (
                cfg.train_dataloader.batch_size), path
    monkeypatch.setattr(sys, 'argv', ['train.py', 'x.py', '--auto-scale-lr'])
    with pytest.raises(
            ValueError,
            match=r'x\.py: --auto-scale-lr needs '
            r'.*auto_scale_lr = dict\(base_batch_size=N\)'):
        train.merge_args(Config(dict(model=dict())), train.parse_args())


def test_readme_snippet_is_the_shipped_config():
    """The README's "Using it in your config" example is a real config
    (built and trained above), quoted verbatim."""
    with open(
            osp.join(ROOT, 'configs',
                     'clusterfit_resnet18_8xb16_cifar10.py')) as f:
        config = f.read()
    with open(osp.join(ROOT, 'README.md')) as f:
        readme = f.read()
    assert f'```python\n{config}```' in readme


def test_r50_recipe_is_the_papers():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'clusterfit_r50.py'))
    hook = cfg.custom_hooks[0]
    assert cfg.num_clusters == hook.num_clusters == 16000
    assert cfg.model.head.num_clusters == 16000
    assert hook.source.config.startswith('mmpretrain::mocov2/')
    assert cfg.train_cfg.max_epochs == 105
    assert cfg.param_scheduler.milestones == [30, 60, 90, 100]
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.train_dataloader.dataset.type == 'ClusterFitDataset'


def test_metafile_names_real_configs():
    """configs/clusterfit/metafile.yml (mmpretrain's format) lists every
    recipe and benchmark config, each by its own path (not the short
    names, which inherit a recipe)."""
    import yaml
    with open(osp.join(ROOT, 'configs', 'clusterfit', 'metafile.yml')) as f:
        meta = yaml.safe_load(f)
    assert meta['Collections'][0]['Name'] == 'ClusterFit'
    listed = {m['Config'] for m in meta['Models']}
    assert all(osp.isfile(osp.join(ROOT, c)) for c in listed)
    wanted = {c for c in CONFIGS if 'demo' not in c} - set(SHORT_NAMES)
    assert wanted <= listed
    names = {m['Name'] for m in meta['Models']}
    for model in meta['Models']:
        assert model['In Collection'] == 'ClusterFit'
        assert set(model.get('Downstream', [])) <= names
