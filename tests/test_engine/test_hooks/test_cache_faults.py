# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The cache as a unit under faults, through the real Runner: labels the
manifest does not vouch for are rebuilt, a locked cache is refused before
any extraction, a resume never re-clusters the source over its rounds, and
checks that need no data (or one batch) run before the extraction."""
import copy
import os
import os.path as osp
import shutil
import subprocess

import numpy as np
import pytest
import torch
from helpers import (NUM_IMAGES, SOURCE_MODEL, cache_files,
                     cache_locked_by_another_process, make_cfg, run_runner)
from mmpretrain.registry import MODELS


def checkpoint_with(tmp_path, name, seed=1, constant=False):
    """A SOURCE_MODEL checkpoint: seeded, or with every weight zero."""
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(SOURCE_MODEL))
    model.init_weights()
    state = model.state_dict()
    if constant:
        state = {k: torch.zeros_like(v) for k, v in state.items()}
    path = str(tmp_path / name)
    torch.save(dict(state_dict=state), path)
    return path


def test_another_runs_labels_beside_the_manifest_are_rebuilt(
        tmp_path, image_root, source_checkpoint, rounds, capsys):
    run_a, run_b = str(tmp_path / 'a'), str(tmp_path / 'b')
    run_runner(make_cfg(run_a, image_root, source_checkpoint))
    labels_a = np.load(osp.join(run_a, 'clusterfit', 'labels.npy'))
    run_runner(make_cfg(run_b, image_root, checkpoint_with(tmp_path, 'b.pth')))
    labels_b = np.load(osp.join(run_b, 'clusterfit', 'labels.npy'))
    assert labels_a.shape == labels_b.shape and (labels_a != labels_b).any()
    # The interleaving the issue forced: B's labels under A's manifest.
    shutil.copy(
        osp.join(run_b, 'clusterfit', 'labels.npy'),
        osp.join(run_a, 'clusterfit', 'labels.npy'))
    runner = run_runner(make_cfg(run_a, image_root, source_checkpoint))
    assert 'its bytes are not the ones the manifest recorded' in \
        capsys.readouterr().out
    assert rounds == [('backbone', 0)] * 3  # A's clustering was redone
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  labels_a)


def test_a_locked_cache_is_refused_before_extraction(tmp_path, image_root,
                                                     source_checkpoint,
                                                     rounds):
    work = str(tmp_path / 'w')
    with cache_locked_by_another_process(osp.join(work, 'clusterfit')) as pid:
        with pytest.raises(RuntimeError, match=rf'pid {pid} on'):
            run_runner(make_cfg(work, image_root, source_checkpoint))
    assert rounds == [] and cache_files(work) == []
    run_runner(make_cfg(work, image_root, source_checkpoint))
    assert rounds == [('backbone', 0)]


def test_dangling_cache_dir_is_refused_before_extraction(
        tmp_path, image_root, source_checkpoint, rounds):
    (tmp_path / 'gone').symlink_to(tmp_path / 'nowhere')
    cfg = make_cfg(
        str(tmp_path / 'w'),
        image_root,
        source_checkpoint,
        cache_dir=str(tmp_path / 'gone'))
    with pytest.raises(OSError, match=r'cache_dir .*gone cannot be used'):
        run_runner(cfg)
    assert rounds == []


def test_two_clusterfit_hooks_are_refused(tmp_path, image_root,
                                          source_checkpoint, rounds):
    cfg = make_cfg(str(tmp_path / 'w'), image_root, source_checkpoint)
    cfg['custom_hooks'].append(copy.deepcopy(cfg['custom_hooks'][0]))
    with pytest.raises(ValueError, match='appears 2 times'):
        run_runner(cfg)
    assert rounds == []


def test_pca_wider_than_the_features_fails_at_the_first_batch(
        tmp_path, image_root, source_checkpoint, monkeypatch):
    import clusterfit_plugin.engine.extractor as extractor
    batches = []
    forward = extractor.forward_features

    def counted(*args, **kwargs):
        batches.append(1)
        return forward(*args, **kwargs)

    monkeypatch.setattr(extractor, 'forward_features', counted)
    cfg = make_cfg(
        str(tmp_path / 'w'), image_root, source_checkpoint, pca=dict(dim=64))
    with pytest.raises(
            ValueError,
            match=r'pca.dim=64 exceeds the 32-d '
            r'features of the source; set pca=dict\(dim=...\) to at most 32'):
        run_runner(cfg)
    assert len(batches) == 1  # of ceil(45 / 8) = 6


def test_constant_features_warn_that_the_labels_say_nothing(
        tmp_path, image_root, capsys):
    path = checkpoint_with(tmp_path, 'zero.pth', constant=True)
    runner = run_runner(make_cfg(str(tmp_path / 'w'), image_root, path))
    assert len(set(runner.train_dataloader.dataset.labels.tolist())) == 1
    assert f'every one of the {NUM_IMAGES} samples is in one cluster' in \
        capsys.readouterr().out


def test_a_failed_diagnostics_write_does_not_abort_the_run(
        tmp_path, image_root, source_checkpoint, capsys):
    work = str(tmp_path / 'w')
    os.makedirs(osp.join(work, 'clusterfit'))
    with open(osp.join(work, 'clusterfit', 'diagnostics'), 'w') as f:
        f.write('a file where the diagnostics folder goes')
    runner = run_runner(make_cfg(work, image_root, source_checkpoint))
    assert runner.epoch == 1
    assert 'the source diagnostics were not written' in \
        capsys.readouterr().out
    assert 'labels.npy' in cache_files(work)


def test_label_file_with_ids_beyond_the_head(tmp_path, image_root):
    path = str(tmp_path / 'labels.npy')
    np.save(path, np.arange(NUM_IMAGES, dtype=np.int64) % 5)
    cfg = make_cfg(str(tmp_path / 'w'), image_root, None)
    cfg['custom_hooks'] = []
    cfg['train_dataloader']['dataset'].update(label_file=path)
    with pytest.raises(
            ValueError,
            match=r'ClusterFitHead has num_clusters=3 outputs but got the '
            r'label [34]'):
        run_runner(cfg)


@pytest.mark.slow
def test_resume_after_a_source_cache_miss_keeps_the_rounds(
        tmp_path, image_root, source_checkpoint, rounds):
    work = str(tmp_path / 'w')
    run_runner(
        make_cfg(
            work, image_root, source_checkpoint, max_epochs=3, interval=2))
    round2 = np.load(osp.join(work, 'clusterfit', 'labels_epoch2.npy'))
    os.remove(osp.join(work, 'clusterfit', 'labels.npy'))  # a source miss
    del rounds[:]
    runner = run_runner(
        make_cfg(
            work, image_root, source_checkpoint, max_epochs=4, interval=2),
        resume=True)
    # Resumed at epoch 3 on the round of epoch 2; the source is not redone.
    assert rounds == []
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  round2)
    assert 'labels_epoch2.npy' in cache_files(work)


def test_regenerated_images_rebuild_with_a_contents_fingerprint(
        tmp_path, image_root, source_checkpoint, rounds, capsys):
    root = str(tmp_path / 'images')
    shutil.copytree(image_root, root)
    work, hashed = str(tmp_path / 'w'), str(tmp_path / 'h')
    run_runner(make_cfg(work, root, source_checkpoint))
    assert 'their contents are not hashed' in capsys.readouterr().out
    by_mtime = dict(fingerprint=dict(contents='mtime_size'))
    run_runner(make_cfg(hashed, root, source_checkpoint, **by_mtime))
    assert rounds == [('backbone', 0)] * 2
    image = osp.join(root, 'img', '003.png')
    shutil.copy(osp.join(root, 'img', '004.png'), image)  # regenerated
    os.utime(image, ns=(0, os.stat(image).st_mtime_ns + 10**9))
    run_runner(make_cfg(work, root, source_checkpoint))
    assert rounds == [('backbone', 0)] * 2  # paths only: reused, stale
    run_runner(make_cfg(hashed, root, source_checkpoint, **by_mtime))
    assert rounds == [('backbone', 0)] * 3
    assert 'was made with another samples' in capsys.readouterr().out


def test_empty_label_file_names_the_file(tmp_path, image_root):
    path = str(tmp_path / 'labels.npy')
    open(path, 'wb').close()
    cfg = make_cfg(str(tmp_path / 'w'), image_root, None)
    cfg['custom_hooks'] = []
    cfg['train_dataloader']['dataset'].update(label_file=path)
    with pytest.raises(
            ValueError, match=r'labels.npy.* is not a readable .npy array'):
        run_runner(cfg)


def test_read_only_cache_dir_is_refused_before_extraction(
        small_disk, tmp_path, image_root, source_checkpoint, rounds):
    subprocess.run(['mount', '-o', 'remount,ro', small_disk], check=True)
    cfg = make_cfg(
        str(tmp_path / 'w'),
        image_root,
        source_checkpoint,
        cache_dir=osp.join(small_disk, 'clusterfit'))
    with pytest.raises(
            OSError,
            match=r'cache_dir .*small_disk/clusterfit '
            'cannot be used: Read-only file system'):
        run_runner(cfg)
    assert rounds == []
