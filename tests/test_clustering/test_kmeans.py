# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""k-means: agreement with raw faiss, the torch backend, sampling, chunks."""
import faiss
import numpy as np
import pytest
from helpers import blobs
from sklearn.metrics import adjusted_rand_score

from clusterfit_plugin.clustering import (KMeans, cluster_size_stats,
                                          faiss_rand_perm, fit_sample_indices,
                                          kmeans_plus_plus)


def test_faiss_backend_equals_raw_faiss():
    x, _ = blobs()
    km = KMeans(20, niter=25, seed=7, backend='faiss-cpu').fit(x)
    labels, dists = km.assign(x)

    raw = faiss.Kmeans(x.shape[1], 20, niter=25, seed=7)
    raw.train(x)
    raw_d, raw_i = raw.index.search(x, 1)

    np.testing.assert_array_equal(labels, raw_i[:, 0])
    np.testing.assert_allclose(
        km.centroids, raw.centroids, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dists, raw_d[:, 0], rtol=1e-4, atol=1e-4)
    assert km.fit_objective == pytest.approx(raw.obj[-1], rel=1e-6)


def test_torch_backend_is_lloyd():
    """Two torch iterations equal a numpy reference Lloyd from the same
    initial centroids (the seeded draw documented in the module)."""
    x, _ = blobs(n=500, k=8)
    init = x[faiss_rand_perm(500, 8, 5 + 1)]  # faiss's start for seed 5
    ref = init.astype(np.float64)
    for _ in range(2):
        d = ((x[:, None, :] - ref[None])**2).sum(-1)
        lab = d.argmin(1)
        ref = np.stack([x[lab == k].mean(0) for k in range(8)])
    km = KMeans(8, niter=2, seed=5, backend='torch').fit(x)
    np.testing.assert_allclose(km.centroids, ref, rtol=1e-4, atol=1e-4)


def test_torch_backend_follows_faiss():
    x, _ = blobs()
    fa = KMeans(20, niter=25, seed=0, backend='faiss-cpu').fit(x)
    to = KMeans(20, niter=25, seed=0, backend='torch').fit(x)
    # The same start (faiss's draw) and the same Lloyd steps: the same
    # centroids up to float rounding.
    np.testing.assert_allclose(
        to.centroids, fa.centroids, rtol=1e-4, atol=1e-4)
    assert to.fit_objective == pytest.approx(fa.fit_objective, rel=1e-5)
    # Seeded: the same result twice.
    again = KMeans(20, niter=25, seed=0, backend='torch').fit(x)
    np.testing.assert_array_equal(again.centroids, to.centroids)


def test_faiss_rand_perm_is_faiss():
    for n, m, seed in [(10, 10, 0), (1000, 300, 5), (70000, 25600, 1234),
                       (5000, 64, 2**32 + 9)]:
        perm = np.empty(n, dtype=np.int32)
        faiss.rand_perm(faiss.swig_ptr(perm), n, seed)
        np.testing.assert_array_equal(faiss_rand_perm(n, m, seed), perm[:m])


def test_sampled_fit_equals_raw_faiss(tmp_path):
    # N above the cap: faiss samples 40 * K points itself; the plugin draws
    # the same points (from a memmap here) and must end with its centroids.
    x, _ = blobs(n=3000)
    raw = faiss.Kmeans(16, 20, niter=10, seed=11, max_points_per_centroid=40)
    raw.train(x)
    mm = np.lib.format.open_memmap(
        tmp_path / 'f.npy', mode='w+', dtype=np.float32, shape=x.shape)
    mm[:] = x
    km = KMeans(
        20,
        niter=10,
        seed=11,
        max_points_per_centroid=40,
        chunk_size=97,
        backend='faiss-cpu').fit(mm)
    assert km.fit_size == 800
    np.testing.assert_array_equal(km.centroids, raw.centroids)
    assert km.fit_objective == raw.obj[-1]


@pytest.mark.parametrize(
    'threshold',
    [0.0, 1e-3, pytest.param(-1.0, marks=pytest.mark.slow)])
def test_early_stop_as_faiss(threshold):
    # faiss stops once an iteration gains no more than the threshold; the
    # torch backend stops after as many iterations (negative: never).
    x, _ = blobs(n=5000, d=32, k=60)
    raw = faiss.Kmeans(
        32, 40, niter=60, seed=0, early_stop_threshold=threshold)
    raw.train(x)
    assert (len(raw.obj) < 60) == (threshold >= 0)
    for backend in ('faiss-cpu', 'torch'):
        km = KMeans(
            40,
            niter=60,
            seed=0,
            early_stop_threshold=threshold,
            backend=backend).fit(x)
        assert km.fit_iterations == len(raw.obj)


@pytest.mark.parametrize('backend', ['faiss-cpu', 'torch'])
def test_kmeans_plus_plus_init(backend):
    x, truth = blobs()
    rand = KMeans(20, niter=25, seed=0, backend=backend).fit(x)
    # Seeding from all 3,000 points finds every blob.
    pp = KMeans(
        20,
        niter=25,
        seed=0,
        init='kmeans++',
        init_points_per_centroid=150,
        backend=backend).fit(x)
    assert pp.fit_objective <= rand.fit_objective * 1.001
    assert adjusted_rand_score(truth, pp.assign(x)[0]) > 0.99
    # The default seeds from a sub-sample of 4 points per centroid; it still
    # beats faiss's random start, and its size is part of the fingerprint.
    sub = KMeans(20, niter=25, seed=0, init='kmeans++', backend=backend)
    assert sub.fit(x).fit_objective < rand.fit_objective
    assert sub.params()['init'] != pp.params()['init']


def test_kmeans_plus_plus_distance_table_matches_row_by_row():
    # Small integers: every dot product is exact in float32, so the table
    # of all pairwise distances and the rows computed step by step agree
    # bit for bit and the seeding must pick the same points.
    x = np.random.default_rng(0).integers(-8, 8, (400, 16)).astype(np.float32)
    table = kmeans_plus_plus(x, 40, seed=3)
    rows = kmeans_plus_plus(x, 40, seed=3, table_bytes=0)
    np.testing.assert_array_equal(table, rows)
    assert len(np.unique(table, axis=0)) == 40


def test_torch_backend_reseeds_empty_clusters():
    # 30 distinct points, K=25, many duplicates: Lloyd would empty clusters.
    rng = np.random.default_rng(1)
    base = rng.normal(size=(30, 4)).astype(np.float32)
    x = np.repeat(base, 20, axis=0)
    km = KMeans(25, niter=20, seed=0, backend='torch').fit(x)
    stats = cluster_size_stats(km.assign(x)[0], 25)
    assert stats['empty'] == 0


def test_sampled_fit_chunked_assign_equals_assign_all():
    x, _ = blobs(n=5000)
    small = KMeans(
        20,
        niter=10,
        seed=3,
        max_points_per_centroid=40,
        chunk_size=333,
        backend='faiss-cpu').fit(x)
    assert small.fit_size == 800
    chunked, chunked_d = small.assign(x)
    whole = KMeans(
        20,
        niter=10,
        seed=3,
        max_points_per_centroid=40,
        chunk_size=10**6,
        backend='faiss-cpu')
    whole.centroids = small.centroids
    all_at_once, all_d = whole.assign(x)
    np.testing.assert_array_equal(chunked, all_at_once)
    np.testing.assert_allclose(chunked_d, all_d)
    # The fit used exactly the documented seeded sample.
    idx = fit_sample_indices(5000, 20, 40, 3)
    direct = KMeans(
        20, niter=10, seed=3, max_points_per_centroid=40,
        backend='faiss-cpu').fit(x[idx])
    np.testing.assert_allclose(direct.centroids, small.centroids, rtol=1e-6)


def test_memmap_input(tmp_path):
    x, _ = blobs(n=2000)
    mm = np.lib.format.open_memmap(
        tmp_path / 'f.npy', mode='w+', dtype=np.float16, shape=x.shape)
    mm[:] = x
    km = KMeans(20, niter=10, seed=0, chunk_size=300).fit(mm)
    labels, _ = km.assign(mm)
    ref = KMeans(20, niter=10, seed=0).fit(x.astype(np.float16))
    assert adjusted_rand_score(ref.assign(x.astype(np.float16))[0],
                               labels) == 1.0


def test_fit_sample_indices():
    assert fit_sample_indices(100, 10, 10, 0) is None
    a = fit_sample_indices(1000, 10, 10, 0)
    b = fit_sample_indices(1000, 10, 10, 0)
    assert len(a) == 100 and len(np.unique(a)) == 100
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fit_sample_indices(1000, 10, 10, 1))


def test_faiss_without_early_stop_is_refused(monkeypatch):
    # faiss < 1.15 has no early_stop_threshold: a clear error, not a crash
    # inside faiss.Kmeans.
    class OldParameters:
        niter = 25

    monkeypatch.setattr(faiss, 'ClusteringParameters', OldParameters)
    for backend in ('auto', 'faiss-cpu'):
        with pytest.raises(ImportError, match=r'needs faiss >= 1\.15'):
            KMeans(10, backend=backend)
    assert KMeans(10, backend='torch').backend == 'torch'


def test_bad_settings():
    with pytest.raises(ValueError, match='num_clusters=50.*has 10'):
        KMeans(50).fit(np.zeros((10, 4), np.float32))
    with pytest.raises(ValueError, match='at least 2'):
        KMeans(1)
    with pytest.raises(ValueError, match='backend'):
        KMeans(5, backend='cuml')
    with pytest.raises(RuntimeError, match='before fit'):
        KMeans(5).assign(np.zeros((10, 4), np.float32))


@pytest.mark.parametrize('backend', ['faiss-cpu', 'torch'])
def test_non_finite_points_are_refused_by_every_backend(backend):
    """On the Python API too: the torch backend put NaN rows in one
    cluster and reported a NaN objective."""
    x = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    x[7, 2] = np.nan
    with pytest.raises(
            ValueError, match=r'1 row\(s\) hold NaN/inf '
            r'\(rows \[7\]\)'):
        KMeans(3, niter=5, backend=backend).fit(x)
    fitted = KMeans(3, niter=5, backend=backend).fit(x[8:])
    x[9, 0] = np.inf
    with pytest.raises(
            ValueError,
            match=r'k-means assignment: 2 row\(s\) '
            r'hold NaN/inf \(rows \[7, 9\]\)'):
        fitted.assign(x)
