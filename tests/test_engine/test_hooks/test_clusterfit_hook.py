# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""ClusterFitHook end to end through a real mmengine Runner (and torchrun for 2
processes), against labels computed directly."""
import gc
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import weakref

import numpy as np
import pytest
import transforms_for_tests  # noqa: F401
from helpers import (NUM_CLUSTERS, NUM_IMAGES, PIPELINE, ROOT, cache_files,
                     dist_train, image_dataset, make_cfg, reference_labels,
                     run_runner, tiny_source)
from mmengine.config import Config

from clusterfit_plugin.engine.source import build_source_model


def source_labels(image_root, checkpoint, **kwargs):
    """Labels computed directly: source features -> L2 -> seeded faiss."""
    return reference_labels(
        tiny_source(checkpoint), image_dataset(image_root), **kwargs)


@pytest.mark.slow
def test_end_to_end_and_resume_reuses_cache(tmp_path, image_root,
                                            source_checkpoint, monkeypatch,
                                            rounds):
    import clusterfit_plugin.engine.pipeline as pipeline_module
    built = []

    def build_and_watch(source):
        model = build_source_model(source)
        built.append(weakref.ref(model))
        return model

    monkeypatch.setattr(pipeline_module, 'build_source_model', build_and_watch)
    work = str(tmp_path / 'work')
    runner = run_runner(make_cfg(work, image_root, source_checkpoint))
    labels = np.load(osp.join(work, 'clusterfit', 'labels.npy'))
    assert labels.dtype == np.int64 and labels.shape == (NUM_IMAGES, )
    np.testing.assert_array_equal(labels,
                                  source_labels(image_root, source_checkpoint))
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  labels)
    with open(osp.join(work, 'clusterfit', 'manifest.json')) as f:
        manifest = json.load(f)
    assert manifest['num_samples'] == NUM_IMAGES
    assert manifest['num_clusters'] == NUM_CLUSTERS
    sizes = np.bincount(labels, minlength=NUM_CLUSTERS)
    assert manifest['cluster_size'] == dict(
        min=int(sizes.min()),
        median=float(np.median(sizes)),
        max=int(sizes.max()),
        empty=int((sizes == 0).sum()))
    assert set(manifest['timings']) == {
        'extract_s', 'kmeans_fit_s', 'kmeans_total_s'
    }
    assert manifest['versions']['faiss'] and manifest['objective'] > 0
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    # The source network was built once and is freed after clustering.
    gc.collect()
    assert len(built) == 1 and built[0]() is None

    assert rounds == [('backbone', 0)]

    mtime = os.stat(osp.join(work, 'clusterfit', 'labels.npy')).st_mtime_ns
    epoch1 = os.stat(osp.join(work, 'epoch_1.pth')).st_mtime_ns
    resumed = run_runner(
        make_cfg(work, image_root, source_checkpoint, max_epochs=2),
        resume=True)
    # Resumed from epoch 1 (its checkpoint is not rewritten) and the cache
    # reused: no second round, no second source network, the labels file
    # untouched.
    assert resumed.epoch == 2 and osp.isfile(osp.join(work, 'epoch_2.pth'))
    assert os.stat(osp.join(work, 'epoch_1.pth')).st_mtime_ns == epoch1
    assert rounds == [('backbone', 0)] and len(built) == 1
    assert os.stat(osp.join(work, 'clusterfit',
                            'labels.npy')).st_mtime_ns == mtime
    np.testing.assert_array_equal(resumed.train_dataloader.dataset.labels,
                                  labels)


@pytest.mark.slow
def test_changed_setting_is_not_silently_reused(tmp_path, image_root,
                                                source_checkpoint, capsys,
                                                rounds):
    work = str(tmp_path / 'work')
    run_runner(make_cfg(work, image_root, source_checkpoint))
    first = json.load(open(osp.join(work, 'clusterfit', 'manifest.json')))
    capsys.readouterr()
    run_runner(
        make_cfg(
            work, image_root, source_checkpoint, kmeans=dict(niter=10,
                                                             seed=1)))
    # The user is told which part changed, and the clustering is redone.
    assert 'was made with another kmeans' in capsys.readouterr().out
    assert len(rounds) == 2
    second = json.load(open(osp.join(work, 'clusterfit', 'manifest.json')))
    assert second['fingerprint'] != first['fingerprint']
    assert second['kmeans']['seed'] == 1


@pytest.mark.slow
def test_two_process_gloo_matches_one_process(tmp_path, image_root,
                                              source_checkpoint):
    """torchrun, 2 CPU processes, N=45 with batch 4: DefaultSampler pads;
    the labels must equal the 1-process labels."""
    one = str(tmp_path / 'one')
    run_runner(make_cfg(one, image_root, source_checkpoint))
    two = str(tmp_path / 'two')
    proc = dist_train(make_cfg(two, image_root, source_checkpoint), tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '(shard 0 of 2)' in proc.stdout + proc.stderr
    np.testing.assert_array_equal(
        np.load(osp.join(two, 'clusterfit', 'labels.npy')),
        np.load(osp.join(one, 'clusterfit', 'labels.npy')))
    manifest = json.load(open(osp.join(two, 'clusterfit', 'manifest.json')))
    assert manifest['world_size'] == 2
    # Rank 0's fit reached every rank: both runs report the same fit.
    single = json.load(open(osp.join(one, 'clusterfit', 'manifest.json')))
    for key in ('fit_objective', 'fit_size', 'fit_iterations'):
        assert manifest[key] == single[key]
    assert 1 <= manifest['fit_iterations'] <= manifest['kmeans']['niter']


def test_k_larger_than_n(tmp_path, image_root, source_checkpoint):
    work = str(tmp_path / 'w')
    with pytest.raises(ValueError, match=r'num_clusters=50 .* dataset has 45'):
        run_runner(
            make_cfg(work, image_root, source_checkpoint, num_clusters=50))
    assert cache_files(work) == []


def test_head_outputs_differ_from_k(tmp_path, image_root, source_checkpoint):
    cfg = make_cfg(str(tmp_path / 'w'), image_root, source_checkpoint)
    cfg['model']['head']['num_clusters'] = 7
    with pytest.raises(
            ValueError,
            match=r'ClusterFitHook: model.head has 7 outputs but the '
            r'clustering has num_clusters=3'):
        run_runner(cfg)
    assert cache_files(str(tmp_path / 'w')) == []


def test_missing_source_checkpoint(tmp_path, image_root):
    missing = str(tmp_path / 'nowhere' / 'source.pth')
    with pytest.raises(FileNotFoundError, match='nowhere/source.pth'):
        run_runner(make_cfg(str(tmp_path / 'w'), image_root, missing))
    assert cache_files(str(tmp_path / 'w')) == []


def test_unknown_stage(tmp_path, image_root, source_checkpoint):
    cfg = make_cfg(str(tmp_path / 'w'), image_root, source_checkpoint)
    cfg['custom_hooks'][0]['source']['stage'] = 'layer3'
    with pytest.raises(
            ValueError,
            match=r"stage='layer3' is unknown; use "
            r"one of \('backbone', 'neck', 'pre_logits'\)"):
        run_runner(cfg)


def test_corrupt_image(tmp_path, image_root, source_checkpoint):
    root = str(tmp_path / 'images')
    shutil.copytree(image_root, root)
    bad = osp.join(root, 'img', '017.png')
    with open(bad, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n not really a png')
    work = str(tmp_path / 'w')
    with pytest.raises(RuntimeError, match=r'sample 17 \(.*img/017.png\)'):
        run_runner(make_cfg(work, root, source_checkpoint))
    assert cache_files(work) == []


def test_label_file_of_wrong_length(tmp_path, image_root):
    path = str(tmp_path / 'labels.npy')
    np.save(path, np.zeros(NUM_IMAGES + 3, np.int64))
    cfg = make_cfg(str(tmp_path / 'w'), image_root, None)
    cfg['custom_hooks'] = []
    cfg['train_dataloader']['dataset']['label_file'] = path
    with pytest.raises(
            ValueError,
            match=r'labels.npy.* has 48 labels but '
            r'the wrapped dataset has 45'):
        run_runner(cfg)


def test_label_file_trains_without_hook(tmp_path, image_root):
    path = str(tmp_path / 'labels.npy')
    np.save(path, np.arange(NUM_IMAGES, dtype=np.int64) % NUM_CLUSTERS)
    cfg = make_cfg(str(tmp_path / 'w'), image_root, None)
    cfg['custom_hooks'] = []
    cfg['train_dataloader']['dataset'].update(
        label_file=path, num_clusters=NUM_CLUSTERS)
    runner = run_runner(cfg)
    assert runner.epoch == 1
    assert runner.train_dataloader.dataset.metainfo['classes'][-1] == \
        'cluster_2'


@pytest.mark.slow
def test_tools_test_py_loads_checkpoint_and_evaluates(tmp_path, image_root,
                                                      source_checkpoint):
    """tools/test.py: load_from a Runner checkpoint (weights_only=True) and
    evaluate the ClusterFit model on the images' real labels."""
    work = str(tmp_path / 'w')
    cfg = make_cfg(work, image_root, source_checkpoint)
    run_runner(cfg)
    cfg = Config(cfg)
    cfg.test_dataloader = dict(
        batch_size=8,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='CustomDataset',
            data_root=image_root,
            ann_file='ann.txt',
            pipeline=PIPELINE))
    cfg.test_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.test_cfg = dict()
    cfg_path = str(tmp_path / 'test_cfg.py')
    cfg.dump(cfg_path)
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'test.py'), cfg_path,
        osp.join(work, 'epoch_1.pth'), '--work-dir',
        str(tmp_path / 't')
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Load checkpoint from' in proc.stdout + proc.stderr
    assert 'accuracy/top1:' in proc.stdout + proc.stderr


@pytest.mark.slow
def test_hook_with_pca_fp16_disk_store(tmp_path, image_root,
                                       source_checkpoint):
    work = str(tmp_path / 'w')
    runner = run_runner(
        make_cfg(
            work,
            image_root,
            source_checkpoint,
            features=dict(storage='disk', dtype='float16'),
            pca=dict(dim=8)))
    manifest = json.load(open(osp.join(work, 'clusterfit', 'manifest.json')))
    assert manifest['pca'] == dict(dim=8, whiten=True)
    assert manifest['features']['dtype'] == 'float16'
    assert manifest['feature_dim'] == 8  # centroids live in PCA space
    # Files removed after clustering (keep=False), labels complete.
    assert os.listdir(osp.join(work, 'clusterfit', 'features')) == []
    np.testing.assert_array_equal(
        runner.train_dataloader.dataset.labels,
        source_labels(
            image_root, source_checkpoint, pca_dim=8, dtype='float16'))
