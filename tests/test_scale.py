# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Scale features: the feature store (memory / disk, fp16, resume), PCA
whitening, resumable extraction after a kill, and the wait that keeps the
other ranks clear of the process-group timeout while rank 0 fits k-means."""
import json
import os
import os.path as osp
from datetime import timedelta

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.runner import Runner
from sklearn.decomposition import PCA

import transforms_for_tests  # noqa: F401
from clusterfit_plugin.clustering import FeatureStore, KMeans, Preprocessor
from clusterfit_plugin.engine.dist_clustering import (_default_store,
                                                      assemble_sample,
                                                      cluster_by_index)
from conftest import NUM_IMAGES, make_cfg
from helpers import free_port
from test_faults import kill_when


def run(cfg):
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    return runner


def test_store_in_memory_and_fp16():
    store = FeatureStore(5, dtype='float16')
    store.append(np.ones((3, 4)))
    with pytest.raises(RuntimeError, match='3 of 5 rows'):
        store.finish()
    store.append(np.full((2, 4), 2.0))
    out = store.finish()
    assert out.dtype == np.float16 and out[4, 0] == 2.0
    with pytest.raises(ValueError, match='float64'):
        FeatureStore(5, dtype='float64')


def test_disk_store_resumes_only_its_own_key(tmp_path):
    path = str(tmp_path / 'f.npy')
    store = FeatureStore(10, path=path, key='a', flush_every=4)
    store.append(np.arange(12, dtype=np.float32).reshape(3, 4))
    store.append(np.arange(12, 24, dtype=np.float32).reshape(3, 4))
    # Interrupted here: 6 rows written, progress recorded at 4 or more.
    progress = json.load(open(path + '.json'))
    assert progress['rows_done'] == 6 and progress['key'] == 'a'
    again = FeatureStore(10, path=path, key='a', flush_every=4)
    assert again.rows_done == 6
    np.testing.assert_array_equal(again.array[5], np.arange(20, 24))
    again.append(np.zeros((4, 4), np.float32))
    assert again.finish().shape == (10, 4)
    other = FeatureStore(10, path=path, key='b')
    assert other.rows_done == 0 and other.array is None
    again.remove()
    assert os.listdir(tmp_path) == []


def test_pca_whitening_matches_sklearn():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2000, 16)) @ rng.normal(size=(16, 16))).astype(
        np.float32)
    pre = Preprocessor(pca_dim=6, whiten=True, l2_normalize=False).fit(x)
    ours = pre(x)
    np.testing.assert_allclose(np.cov(ours, rowvar=False), np.eye(6),
                               atol=1e-3)
    ref = PCA(n_components=6, whiten=True).fit(x).transform(x)
    # Equal up to the sign of each component.
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), rtol=1e-2,
                               atol=1e-2)
    normed = Preprocessor(pca_dim=6).fit(x)(x)
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match='pca dim=20'):
        Preprocessor(pca_dim=20).fit(x)


def test_hook_with_pca_fp16_disk_store(tmp_path, image_root,
                                       source_checkpoint):
    work = str(tmp_path / 'w')
    runner = run(
        make_cfg(work, image_root, source_checkpoint,
                 features=dict(storage='disk', dtype='float16'),
                 pca=dict(dim=8)))
    manifest = json.load(open(osp.join(work, 'clusterfit', 'manifest.json')))
    assert manifest['pca'] == dict(dim=8, whiten=True)
    assert manifest['features']['dtype'] == 'float16'
    assert manifest['feature_dim'] == 8  # centroids live in PCA space
    # Files removed after clustering (keep=False), labels complete.
    assert os.listdir(osp.join(work, 'clusterfit', 'features')) == []
    labels = runner.train_dataloader.dataset.labels
    assert labels.min() >= 0 and labels.max() < 3 and len(labels) == 45


def test_interrupted_extraction_resumes(tmp_path, image_root,
                                        source_checkpoint):
    work = str(tmp_path / 'w')
    cfg = make_cfg(
        work, image_root, source_checkpoint,
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
        run(cfg)
    assert f'resuming after {done} rows already on disk' in buf.getvalue()
    reference = str(tmp_path / 'ref')
    cfg_ref = make_cfg(reference, image_root, source_checkpoint)
    run(cfg_ref)
    np.testing.assert_array_equal(
        np.load(osp.join(work, 'clusterfit', 'labels.npy')),
        np.load(osp.join(reference, 'clusterfit', 'labels.npy')))


def test_assemble_sample_orders_rows_and_checks_coverage():
    x = np.arange(40, dtype=np.float16).reshape(10, 4)
    chosen = np.array([7, 2, 9, 0])
    # Two ranks' rows, in their own order: rank 0 holds even indices.
    parts = [(np.array([0, 2]), x[[0, 2]]), (np.array([9, 7]), x[[9, 7]])]
    sample = assemble_sample(parts, chosen, 10)
    assert parts == [] and sample.dtype == np.float32
    np.testing.assert_array_equal(sample, x[chosen])
    with pytest.raises(RuntimeError, match='sent 3 of the 4 sample rows'):
        assemble_sample([(np.array([0, 2, 9]), x[[0, 2, 9]]),
                         (np.array([]), np.empty((0, 0), np.float32))],
                        chosen, 10)


# ~4 s of k-means (no early stop), fitted on a sample of 20 of the 40 points
# (max_points_per_centroid=5, K=4): the sample crosses both ranks.
SLOW_KMEANS = dict(num_clusters=4, niter=25000, early_stop_threshold=-1,
                   max_points_per_centroid=5, seed=0, backend='torch')


def _slow_fit_worker(rank, world, out, port):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world,
                            timeout=timedelta(seconds=2))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    idx = np.arange(rank, 40, world)
    # Rank 0 fits for twice the process group's timeout.
    labels, fit = cluster_by_index(x[idx], idx, 40, KMeans(**SLOW_KMEANS),
                                   Preprocessor(), wait_poll_s=0.5)
    np.save(osp.join(out, f'labels{rank}.npy'), labels)
    np.save(osp.join(out, f'centroids{rank}.npy'), fit.centroids)
    dist.destroy_process_group()


def test_long_fit_does_not_trip_the_process_group_timeout(tmp_path):
    mp.spawn(_slow_fit_worker, args=(2, str(tmp_path), free_port()), nprocs=2)
    a, b = np.load(tmp_path / 'labels0.npy'), np.load(tmp_path / 'labels1.npy')
    np.testing.assert_array_equal(a, b)
    # The same as one process fitting on the same sample, in the same order.
    x = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    pre = Preprocessor()
    km = KMeans(**SLOW_KMEANS).fit(pre(x))
    assert km.fit_size == 20 and km.fit_iterations == 25000
    np.testing.assert_array_equal(np.load(tmp_path / 'centroids0.npy'),
                                  km.centroids)
    np.testing.assert_array_equal(np.load(tmp_path / 'centroids1.npy'),
                                  km.centroids)
    np.testing.assert_array_equal(a, km.assign(pre(x))[0])


def test_the_private_store_accessor_still_exists(tmp_path):
    """The wait for rank 0 polls the default group's store through
    ``torch.distributed``'s private ``_get_default_store``: a torch without
    it fails here."""
    assert _default_store() is None  # no process group
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/pg',
                            rank=0, world_size=1)
    try:
        store = _default_store()
        store.set('clusterfit/test', '1')
        store.wait(['clusterfit/test'], timedelta(seconds=1))
        assert store.get('clusterfit/test') == b'1'
    finally:
        dist.destroy_process_group()
