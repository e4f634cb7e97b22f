# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""A clustering round without a Runner, against a bare reference: the
source's features computed by hand (its data preprocessor, backbone and a
global average) and clustered by raw faiss."""
import os

import faiss
import numpy as np
import pytest
import torch
from helpers import (NUM_CLUSTERS, NUM_IMAGES, PIPELINE, image_dataset,
                     tiny_source)

from clusterfit_plugin.clustering import KMeans
from clusterfit_plugin.engine.cache import ClusterCache
from clusterfit_plugin.engine.clustering_round import ClusteringRound


@pytest.fixture(scope='module')
def source(image_root, source_checkpoint):
    return tiny_source(source_checkpoint), image_dataset(image_root)


def bare_features(model, dataset) -> np.ndarray:
    feats = []
    with torch.no_grad():
        for i in range(len(dataset)):
            data = model.data_preprocessor(
                dict(
                    inputs=[dataset[i]['inputs']],
                    data_samples=[dataset[i]['data_samples']]), False)
            feats.append(model.backbone(data['inputs'])[-1].mean((2, 3)))
    return torch.cat(feats).numpy()


def test_round_equals_bare_features_and_raw_faiss(source):
    model, dataset = source
    x = bare_features(model, dataset)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    km = faiss.Kmeans(x.shape[1], NUM_CLUSTERS, niter=10, seed=0)
    km.train(x)
    want = km.index.search(x, 1)[1][:, 0]

    round_ = ClusteringRound(
        KMeans(NUM_CLUSTERS, niter=10, seed=0, backend='faiss-cpu'),
        PIPELINE,
        batch_size=8,
        num_workers=0)
    result = round_.run(model, dataset, 'backbone')
    np.testing.assert_array_equal(result.labels, want)
    np.testing.assert_allclose(
        result.centroids, km.centroids, rtol=1e-5, atol=1e-6)
    dist = ((x - result.centroids[result.labels])**2).sum(1)
    assert result.objective == pytest.approx(float(dist.sum()), rel=1e-4)
    assert result.fit_size == NUM_IMAGES and result.world_size == 1
    sizes = np.bincount(result.labels, minlength=NUM_CLUSTERS)
    assert result.sizes['max'] == sizes.max()
    assert result.sizes['empty'] == int((sizes == 0).sum())
    assert set(
        result.timings) == {'extract_s', 'kmeans_fit_s', 'kmeans_total_s'}
    summary = result.summary()
    assert summary['num_samples'] == NUM_IMAGES
    assert summary['feature_dim'] == x.shape[1]


@pytest.mark.parametrize('keep', [False, True])
def test_disk_store_gives_the_same_labels(source, tmp_path, keep):
    model, dataset = source
    kmeans = dict(num_clusters=NUM_CLUSTERS, niter=10, seed=0)
    memory = ClusteringRound(KMeans(**kmeans), PIPELINE, 8,
                             0).run(model, dataset, 'backbone')
    disk = ClusteringRound(
        KMeans(**kmeans),
        PIPELINE,
        8,
        0,
        features=dict(storage='disk', dtype='float32',
                      keep=keep)).run(model, dataset, 'backbone',
                                      ClusterCache(str(tmp_path)), 'f' * 64)
    np.testing.assert_array_equal(disk.labels, memory.labels)
    shards = os.listdir(tmp_path / 'features')
    assert bool([s for s in shards if s.endswith('.npy')]) == keep


def test_settings_are_checked_before_any_work():
    kmeans = KMeans(3)
    with pytest.raises(ValueError, match="features.storage='tape'"):
        ClusteringRound(kmeans, PIPELINE, features=dict(storage='tape'))
    with pytest.raises(ValueError, match="features.dtype='int8'"):
        ClusteringRound(kmeans, PIPELINE, features=dict(dtype='int8'))
    with pytest.raises(ValueError, match=r'pca needs dim'):
        ClusteringRound(kmeans, PIPELINE, pca=dict(whiten=False))
    with pytest.raises(
            ValueError,
            match=r"features: unknown key 'dtyp'; "
            "did you mean 'dtype'"):
        ClusteringRound(kmeans, PIPELINE, features=dict(dtyp='float16'))
    with pytest.raises(
            ValueError, match="pca: unknown key 'n_components'; "
            'write dim=...'):
        ClusteringRound(kmeans, PIPELINE, pca=dict(n_components=8))
    round_ = ClusteringRound(kmeans, PIPELINE, pca=dict(dim=8))
    assert round_.settings()['pca'] == dict(dim=8, whiten=True)
    assert round_.fingerprint_parts()['num_clusters'] == '3'
