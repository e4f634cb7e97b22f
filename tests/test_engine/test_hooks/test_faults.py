# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Faults and bad input: killed runs restart cleanly, stale caches are never
used, and each bad input gets a clear error with nothing half-written."""
import copy
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
import transforms_for_tests  # noqa: F401,E402  (SlowDown in-process)
from helpers import (BACKBONE, NUM_IMAGES, SOURCE_MODEL, cache_files,
                     kill_when, make_cfg, run_runner, write_images)
from mmengine.config import Config
from mmpretrain.registry import MODELS


@pytest.mark.slow
@pytest.mark.parametrize('stage', ['extraction', 'kmeans'])
def test_kill_and_restart(stage, tmp_path, image_root, source_checkpoint):
    if stage == 'extraction':
        overrides = dict(extract_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='SlowDown', seconds=0.05),
            dict(type='PackInputs')
        ])
        marker, wait = 'extracting', 1.0
    else:
        # ~3 s of Lloyd iterations on the torch backend (0.17 ms each here),
        # all of them: no early stop.
        overrides = dict(
            kmeans=dict(
                niter=20000, early_stop_threshold=-1, seed=0, backend='torch'))
        marker, wait = 'k-means K=', 0.5
    work = str(tmp_path / 'killed')
    cfg = make_cfg(work, image_root, source_checkpoint, **overrides)
    cfg['custom_imports'] = dict(
        imports=['clusterfit_plugin', 'transforms_for_tests'])
    kill_when(cfg, tmp_path, marker, wait)
    # Nothing that could pass for a result, and no temporary files.
    assert cache_files(work) == []

    run_runner(cfg)
    reference = str(tmp_path / 'reference')
    run_runner(dict(copy.deepcopy(cfg), work_dir=reference))
    assert cache_files(work) == [
        'centroids.npy', 'diagnostics', 'labels.npy', 'manifest.json'
    ]
    np.testing.assert_array_equal(
        np.load(osp.join(work, 'clusterfit', 'labels.npy')),
        np.load(osp.join(reference, 'clusterfit', 'labels.npy')))


def other_checkpoint(tmp_path, model_cfg=SOURCE_MODEL, seed=1, name='o.pth'):
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.init_weights()
    path = str(tmp_path / name)
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize('change',
                         ['source_weights', 'samples', 'num_clusters'])
def test_stale_cache_is_reported_and_replaced(change, tmp_path, image_root,
                                              source_checkpoint, capsys,
                                              rounds):
    work = str(tmp_path / 'w')
    run_runner(make_cfg(work, image_root, source_checkpoint))
    first = np.load(osp.join(work, 'clusterfit', 'labels.npy'))
    capsys.readouterr()
    if change == 'source_weights':
        cfg = make_cfg(work, image_root, other_checkpoint(tmp_path))
    elif change == 'samples':
        root = str(tmp_path / 'more')
        write_images(root, NUM_IMAGES + 6)
        cfg = make_cfg(work, root, source_checkpoint)
    else:
        cfg = make_cfg(work, image_root, source_checkpoint, num_clusters=4)
    run_runner(cfg)
    # The user is told which part changed, and the clustering is redone.
    assert f'was made with another {change}' in capsys.readouterr().out
    assert len(rounds) == 2
    manifest = Config.fromfile(osp.join(work, 'clusterfit', 'manifest.json'))
    assert manifest.fingerprint_parts[change] != ''
    if change == 'samples':
        assert manifest.num_samples == NUM_IMAGES + 6
    if change == 'num_clusters':
        assert manifest.num_clusters == 4
        assert np.load(osp.join(work, 'clusterfit', 'labels.npy')).max() \
            <= 3 and first.max() <= 2


def test_unwritable_cache_dir(tmp_path, image_root, source_checkpoint, rounds):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a directory')
    cfg = make_cfg(
        str(tmp_path / 'w'),
        image_root,
        source_checkpoint,
        cache_dir=str(blocker / 'clusterfit'))
    with pytest.raises(
            OSError, match=r'cache_dir .*a_file/clusterfit cannot be used'):
        run_runner(cfg)
    assert rounds == []  # refused before any extraction


def test_nan_features(tmp_path, image_root):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(SOURCE_MODEL))
    state = model.state_dict()
    state['backbone.conv1.weight'][:] = float('nan')
    path = str(tmp_path / 'nan.pth')
    torch.save(dict(state_dict=state), path)
    work = str(tmp_path / 'w')
    # The first batch (8 samples) is refused before the store takes it.
    with pytest.raises(ValueError, match=r'NaN/inf features for 8 sample'):
        run_runner(make_cfg(work, image_root, path))
    assert cache_files(work) == []


def test_k_at_most_one(tmp_path, image_root, source_checkpoint):
    cfg = make_cfg(
        str(tmp_path / 'w'), image_root, source_checkpoint, num_clusters=1)
    cfg['model']['head']['num_clusters'] = 3
    with pytest.raises(
            ValueError, match='ClusterFitHook num_clusters=1 must be >= 2'):
        run_runner(cfg)


def test_one_sample_dataset(tmp_path, source_checkpoint):
    root = str(tmp_path / 'one')
    write_images(root, 1)
    work = str(tmp_path / 'w')
    with pytest.raises(ValueError, match=r'num_clusters=3 .* dataset has 1'):
        run_runner(make_cfg(work, root, source_checkpoint))
    assert cache_files(work) == []


def test_duplicate_sample_paths(tmp_path, image_root, source_checkpoint):
    root = str(tmp_path / 'dup')
    shutil.copytree(image_root, root)
    with open(osp.join(root, 'ann.txt'), 'a') as f:
        f.write('img/007.png 1\n')
    work = str(tmp_path / 'w')
    with pytest.raises(ValueError, match=r'samples 7 and 45 .*img/007.png'):
        run_runner(make_cfg(work, root, source_checkpoint))
    assert cache_files(work) == []


@pytest.mark.slow
def test_checkpoint_of_another_architecture(tmp_path, image_root):
    wider = copy.deepcopy(SOURCE_MODEL)
    wider['backbone'] = dict(BACKBONE, base_channels=8, stem_channels=8)
    wider['head']['in_channels'] = 64
    path = other_checkpoint(tmp_path, wider, name='wider.pth')
    with pytest.raises(
            ValueError,
            match=r'does not fit the source model '
            r'.*of another shape'):
        run_runner(make_cfg(str(tmp_path / 'w'), image_root, path))

    head_only = str(tmp_path / 'head_only.pth')
    torch.save(
        dict(state_dict={'head.fc.weight': torch.zeros(5, 32)}), head_only)
    with pytest.raises(ValueError, match=r'missing \(e.g. \[.backbone'):
        run_runner(make_cfg(str(tmp_path / 'w2'), image_root, head_only))


@pytest.mark.slow
def test_source_config_that_does_not_exist(tmp_path, image_root,
                                           source_checkpoint):
    cfg = make_cfg(str(tmp_path / 'w'), image_root, source_checkpoint)
    cfg['custom_hooks'][0]['source'] = dict(
        config=str(tmp_path / 'nowhere.py'), checkpoint=source_checkpoint)
    with pytest.raises(FileNotFoundError, match='nowhere.py'):
        run_runner(cfg)
    cfg['custom_hooks'][0]['source'] = dict(
        config='mmpretrain::nosuch/config.py', checkpoint=source_checkpoint)
    with pytest.raises(FileNotFoundError, match='nosuch/config.py'):
        run_runner(cfg)


@pytest.mark.slow
def test_resuming_with_another_k_is_refused(tmp_path, image_root,
                                            source_checkpoint):
    """The old resume ended in a raw SGD tensor-size error."""
    work = str(tmp_path / 'w')
    run_runner(make_cfg(work, image_root, source_checkpoint))
    cfg = make_cfg(
        work, image_root, source_checkpoint, num_clusters=4, max_epochs=2)
    with pytest.raises(
            ValueError,
            match='the checkpoint has a head of 3 outputs but this run has '
            'num_clusters=4: a run resumed with another K'):
        run_runner(cfg, resume=True)
