# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The CUDA paths: the torch k-means backend on the GPU, AMP and
channels-last extraction, and a whole Runner run on the GPU.

Skipped where CUDA is absent (CI has no GPU); run them on a GPU machine with
``python -m pytest tests/test_cuda.py``. docs/benchmarks.md records where
they last ran.
"""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
import transforms_for_tests  # noqa: F401
from helpers import (NUM_IMAGES, PIPELINE, SOURCE_MODEL, all_features, blobs,
                     image_dataset, make_cfg)
from mmengine.config import Config
from mmengine.runner import Runner
from sklearn.metrics import adjusted_rand_score

from clusterfit_plugin.clustering import KMeans, Preprocessor
from clusterfit_plugin.clustering import assign as assign_module
from clusterfit_plugin.clustering import kmeans as kmeans_module
from clusterfit_plugin.clustering.torch_kmeans import fit_memory_plan
from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.source import build_source_model

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs CUDA')


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def cpu_features(source: dict, dataset) -> np.ndarray:
    """The fp32 reference: the source's features extracted on the CPU."""
    return all_features(build_source_model(source).cpu(), dataset)


def test_torch_kmeans_on_cuda_equals_cpu(monkeypatch):
    x, truth = blobs()
    settings = dict(
        niter=25,
        seed=3,
        backend='torch',
        chunk_size=700,
        init='kmeans++',
        init_points_per_centroid=150)
    gpu = KMeans(20, **settings).fit(x)
    gpu_labels, gpu_dists = gpu.assign(x)
    # The same settings with the CPU as the torch backend's device.
    monkeypatch.setattr(kmeans_module, 'torch_device', lambda: 'cpu')
    monkeypatch.setattr(assign_module, 'torch_device', lambda: 'cpu')
    cpu = KMeans(20, **settings).fit(x)
    cpu_labels, cpu_dists = cpu.assign(x)
    np.testing.assert_array_equal(gpu_labels, cpu_labels)
    np.testing.assert_allclose(
        gpu.centroids, cpu.centroids, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gpu_dists, cpu_dists, rtol=1e-3, atol=1e-3)
    assert gpu.fit_objective == pytest.approx(cpu.fit_objective, rel=1e-5)
    assert adjusted_rand_score(truth, gpu_labels) > 0.99


def test_torch_assignment_on_cuda_equals_faiss():
    x, _ = blobs(n=5000, d=64, k=50)
    fa = KMeans(50, niter=10, seed=0, backend='faiss-cpu').fit(x)
    labels, dists = kmeans_module.assign_to_centroids(x, fa.centroids, 'torch',
                                                      1234)
    ref_labels, ref_dists = fa.assign(x)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(dists, ref_dists, rtol=1e-3, atol=1e-3)


def test_memory_plan_bounds_the_cuda_peak():
    """The peak the caching allocator reports during a float16-sample fit
    against ``fit_memory_plan`` (the CPU test checks the same formula
    against torch's allocation record); cuBLAS's workspace and the
    allocator's rounding get 64 MiB."""
    m, d, k, chunk = 131072, 256, 2048, 16384
    x = np.random.default_rng(0).normal(size=(m, d)).astype(np.float16)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    KMeans(
        k,
        niter=3,
        seed=0,
        backend='torch',
        sample_dtype='float16',
        chunk_size=chunk,
        early_stop_threshold=-1).fit(x, Preprocessor())
    peak = torch.cuda.max_memory_allocated() - base
    plan = fit_memory_plan(m, d, k, chunk, torch.float16)
    assert 0.9 * plan <= peak <= plan + 64 * 2**20, (peak, plan)


def test_tf32_is_asked_for_and_scoped():
    """allow_tf32 holds for the fit only; its objective stays near fp32's
    (docs/benchmarks.md records the difference at paper scale)."""
    x, _ = blobs(n=20000, d=128, k=50)
    before = torch.backends.cuda.matmul.allow_tf32
    runs = {
        tf32:
        KMeans(50, niter=20, seed=0, backend='torch',
               allow_tf32=tf32).fit(x, Preprocessor())
        for tf32 in (False, True)
    }
    assert torch.backends.cuda.matmul.allow_tf32 == before
    assert runs[True].fit_objective == pytest.approx(
        runs[False].fit_objective, rel=1e-2)


@pytest.mark.parametrize('amp,channels_last,tol', [(False, True, 1e-3),
                                                   (True, False, 2e-2),
                                                   (True, True, 2e-2)])
def test_extraction_amp_and_channels_last(image_root, source_checkpoint, amp,
                                          channels_last, tol):
    dataset = image_dataset(image_root)
    indices = np.arange(len(dataset))
    source = dict(
        model=SOURCE_MODEL, checkpoint=source_checkpoint, stage='backbone')
    kwargs = dict(batch_size=8, num_workers=0, progress=False)
    ref = cpu_features(source, dataset)
    model = build_source_model(source)
    assert next(model.parameters()).is_cuda
    out = extract_features(
        model,
        dataset,
        PIPELINE,
        indices,
        'backbone',
        amp=amp,
        channels_last=channels_last,
        **kwargs)
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert np.isfinite(out).all()
    assert relative_difference(out, ref) < tol


def test_runner_on_cuda_with_amp_and_torch_kmeans(tmp_path, image_root,
                                                  source_checkpoint):
    work = str(tmp_path / 'w')
    cfg = make_cfg(
        work,
        image_root,
        source_checkpoint,
        amp=True,
        channels_last=True,
        kmeans=dict(niter=10, seed=0, backend='torch'),
        features=dict(storage='disk', keep=True))
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    assert next(runner.model.parameters()).is_cuda
    cache = osp.join(work, 'clusterfit')
    manifest = json.load(open(osp.join(cache, 'manifest.json')))
    assert manifest['kmeans']['backend'] == 'torch'
    labels = np.load(osp.join(cache, 'labels.npy'))
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  labels)
    assert labels.shape == (NUM_IMAGES, )
    # The kept AMP features are the fp32 CPU features up to AMP rounding,
    # and every label is the nearest centroid of its normalised feature.
    kept = glob.glob(osp.join(cache, 'features', '*-rank0-of-1.npy'))
    assert len(kept) == 1
    feats = np.load(kept[0]).astype(np.float32)
    source = dict(
        model=SOURCE_MODEL, checkpoint=source_checkpoint, stage='backbone')
    dataset = runner.train_dataloader.dataset.dataset
    assert relative_difference(feats, cpu_features(source, dataset)) < 2e-2
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    centroids = np.load(osp.join(cache, 'centroids.npy'))
    nearest, _ = kmeans_module.assign_to_centroids(feats, centroids,
                                                   'faiss-cpu', 16)
    np.testing.assert_array_equal(nearest, labels)


@pytest.mark.skipif(
    kmeans_module.faiss is None or kmeans_module.faiss.get_num_gpus() > 0,
    reason='needs a faiss without GPU support')
def test_auto_backend_on_cuda_without_faiss_gpu_is_torch(
        tmp_path, image_root, source_checkpoint):
    work = str(tmp_path / 'w')
    Runner.from_cfg(Config(make_cfg(work, image_root,
                                    source_checkpoint))).train()
    manifest = json.load(open(osp.join(work, 'clusterfit', 'manifest.json')))
    assert manifest['kmeans']['backend'] == 'torch'
