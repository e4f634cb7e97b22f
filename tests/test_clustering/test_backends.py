# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Backend selection and the faiss-gpu branch, on a machine without a GPU.

faiss's GPU entry points and torch's CUDA queries are replaced by recording
fakes (named ``Fake*`` / ``fake_*``): the fakes record how the plugin calls
them and hand the work to real faiss on the CPU, so the labels are still
checked against raw faiss.
"""
import faiss
import numpy as np
import pytest
import torch
from helpers import blobs

from clusterfit_plugin.clustering import FeatureStore, KMeans
from clusterfit_plugin.clustering import assign as assign_module
from clusterfit_plugin.clustering import kmeans as kmeans_module
from clusterfit_plugin.engine.clustering_round import (ClusteringRound,
                                                       FeatureShard)


class FakeGpuResources:
    """Records each ``faiss.StandardGpuResources()`` made."""
    made = []

    def __init__(self):
        FakeGpuResources.made.append(self)


class FakeKmeans(faiss.Kmeans):
    """Records the ``gpu=`` argument, then trains with real faiss on the
    CPU."""
    gpu_args = []

    def __init__(self, *args, gpu=False, **kwargs):
        FakeKmeans.gpu_args.append(gpu)
        super().__init__(*args, **kwargs)


@pytest.fixture
def fake_gpu(monkeypatch):
    """A machine where CUDA is present on device ``device`` and faiss has
    ``num_gpus`` GPUs; returns the list of index_cpu_to_gpu calls."""
    calls = []

    def install(num_gpus: int, device: int = 1):

        def fake_index_cpu_to_gpu(resources, dev, index):
            calls.append((resources, dev))
            return index  # searches on the CPU: real results

        monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
        monkeypatch.setattr(torch.cuda, 'current_device', lambda: device)
        monkeypatch.setattr(torch.cuda, 'device_count', lambda: device + 1)
        monkeypatch.setattr(
            faiss, 'get_num_gpus', lambda: num_gpus, raising=False)
        monkeypatch.setattr(
            faiss, 'StandardGpuResources', FakeGpuResources, raising=False)
        monkeypatch.setattr(
            faiss, 'index_cpu_to_gpu', fake_index_cpu_to_gpu, raising=False)
        monkeypatch.setattr(faiss, 'Kmeans', FakeKmeans)
        assign_module.faiss_gpu_resources.cache_clear()
        FakeGpuResources.made.clear()
        FakeKmeans.gpu_args.clear()
        return calls

    yield install
    assign_module.faiss_gpu_resources.cache_clear()


def test_auto_without_cuda_is_faiss_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert kmeans_module.resolve_backend('auto') == 'faiss-cpu'


def test_auto_on_cuda_without_faiss_gpu_is_torch(fake_gpu):
    fake_gpu(num_gpus=0)
    assert kmeans_module.resolve_backend('auto') == 'torch'
    with pytest.raises(RuntimeError, match='faiss sees no GPU'):
        kmeans_module.resolve_backend('faiss-gpu')
    assert kmeans_module.resolve_backend('faiss-cpu') == 'faiss-cpu'


def test_auto_without_faiss_is_torch(monkeypatch):
    monkeypatch.setattr(kmeans_module, 'faiss', None)
    assert kmeans_module.resolve_backend('auto') == 'torch'
    with pytest.raises(ImportError, match='needs faiss'):
        kmeans_module.resolve_backend('faiss-cpu')


def test_faiss_gpu_branch_fits_on_gpu_and_assigns_on_own_device(fake_gpu):
    calls = fake_gpu(num_gpus=2, device=1)
    assert kmeans_module.resolve_backend('auto') == 'faiss-gpu'
    x, _ = blobs()
    km = KMeans(20, niter=25, seed=7, backend='auto').fit(x)
    labels, dists = km.assign(x)
    km.assign(x[:100])

    assert km.backend == 'faiss-gpu'
    assert FakeKmeans.gpu_args == [True]  # the fit asked faiss for the GPU
    # Both assignments searched on this process's device, with one
    # resources object made once for it.
    assert [dev for _, dev in calls] == [1, 1]
    assert len(FakeGpuResources.made) == 1
    assert all(res is FakeGpuResources.made[0] for res, _ in calls)

    raw = faiss.IndexFlatL2(x.shape[1])
    raw.add(km.centroids)
    raw_d, raw_i = raw.search(x, 1)
    np.testing.assert_array_equal(labels, raw_i[:, 0])
    np.testing.assert_allclose(dists, raw_d[:, 0], rtol=1e-5)


@pytest.mark.parametrize('cuda', [True, False])
def test_explicit_faiss_cpu_beside_cuda_points_to_torch(
        fake_gpu, monkeypatch, log, cuda):
    fake_gpu(num_gpus=0)
    if not cuda:
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    x, _ = blobs()
    n = len(x)
    round_ = ClusteringRound(
        KMeans(20, niter=10, seed=0, backend='faiss-cpu'), [], 8, 0)
    result = round_.cluster(FeatureShard(x, np.arange(n), n, FeatureStore(n)))

    hint = "kmeans=dict(backend='torch') or 'auto' runs k-means on CUDA"
    assert (hint in log()) == cuda
    # The run itself is faiss-cpu's: raw faiss on the L2-normalised rows.
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    raw = faiss.Kmeans(x.shape[1], 20, niter=10, seed=0)
    raw.train(xn)
    np.testing.assert_array_equal(result.labels,
                                  raw.index.search(xn, 1)[1][:, 0])
