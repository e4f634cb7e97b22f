# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Progress lines: k-means iterations, assignment chunks and disk-store
flushes through the mmengine logger, throttled, with the results unchanged.
"""
import functools
import os
import re

import faiss
import numpy as np
import pytest

from clusterfit_plugin.clustering import FeatureStore, KMeans, Preprocessor
from clusterfit_plugin.clustering import feature_store as features_module
from clusterfit_plugin.engine.dist_clustering import cluster_by_index
from clusterfit_plugin.utils.progress import ProgressLogger, forward_c_stdout

ITERATION = re.compile(r'k-means iteration (\d+)/(\d+): objective (\S+)')


def points(n=4000, d=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def logged_objectives(text):
    return [(int(m.group(1)), float(m.group(3)))
            for m in ITERATION.finditer(text)]


def test_faiss_iterations_are_logged_as_raw_faiss_computes_them(log):
    """faiss prints its iterations from C++; they reach the logger, one line
    per iteration with log_interval_s=0, equal to raw faiss's objectives."""
    x = points()
    log()
    km = KMeans(10, niter=6, seed=3, backend='faiss-cpu', log_interval_s=0)
    km.fit(x)
    out = log()
    raw = faiss.Kmeans(x.shape[1], 10, niter=6, seed=3)
    raw.train(x)
    logged = logged_objectives(out)
    assert [i for i, _ in logged] == list(range(1, len(raw.obj) + 1))
    np.testing.assert_allclose([v for _, v in logged], raw.obj, rtol=1e-5)
    assert 'Iteration' not in out  # faiss's own lines do not leak through
    assert f'{len(raw.obj)} iterations' in out  # the summary line


@pytest.mark.parametrize('backend', ['faiss-cpu', 'torch'])
def test_progress_changes_nothing_and_is_throttled(backend, log):
    x = points()
    loud = KMeans(10, niter=8, backend=backend, log_interval_s=0).fit(x)
    log()
    quiet = KMeans(10, niter=8, backend=backend).fit(x)  # default: 5 s
    out = log()
    np.testing.assert_array_equal(loud.centroids, quiet.centroids)
    # A fit shorter than the interval logs only its summary.
    assert logged_objectives(out) == []
    assert out.count('k-means fit K=10') == 1
    # The torch backend's last logged objective is the fit's.
    km = KMeans(10, niter=8, backend=backend, log_interval_s=0).fit(x)
    last = logged_objectives(log())[-1]
    assert last[0] == km.fit_iterations
    assert last[1] == pytest.approx(km.fit_objective, rel=1e-5)


def test_silent_kmeans_prints_nothing(capfd):
    capfd.readouterr()
    KMeans(10, niter=4, backend='faiss-cpu', log_interval_s=None).fit(points())
    out = capfd.readouterr().out
    assert 'Iteration' not in out and 'k-means iteration' not in out


def test_forward_c_stdout_passes_other_output_on(capfd):
    seen = []
    with forward_c_stdout(lambda line: seen.append(line) or line == 'mine'):
        os.write(1, b'mine\rother text\n')
        os.write(1, b'tail without end')
    out = capfd.readouterr().out
    # A last piece without a line end is written on as it is.
    assert seen == ['mine', 'other text']
    assert out == 'other text\ntail without end'


def test_assignment_and_flush_progress(tmp_path, log, monkeypatch):
    """Chunked assignment logs rows done; a disk store logs its flushes;
    with interval 0 every chunk and every flush gives a line."""
    monkeypatch.setattr(features_module, 'ProgressLogger',
                        functools.partial(ProgressLogger, 0))
    x = points(n=1000)
    km = KMeans(4, niter=2, chunk_size=300, log_interval_s=0)
    log()
    labels, fit = cluster_by_index(x, np.arange(1000), 1000, km,
                                   Preprocessor())
    out = log()
    assert re.findall(r'assigned (\d+)/1000 points',
                      out) == ['300', '600', '900', '1000']
    reference = KMeans(4, niter=2, chunk_size=300).fit(Preprocessor()(x))
    np.testing.assert_array_equal(fit.centroids, reference.centroids)
    np.testing.assert_array_equal(labels,
                                  reference.assign(Preprocessor()(x))[0])

    store = FeatureStore(10, path=str(tmp_path / 'f.npy'), flush_every=4)
    log()
    for _ in range(5):
        store.append(np.ones((2, 3), np.float32))
    store.finish()
    flushed = re.findall(r'(\d+)/10 feature rows flushed', log())
    assert flushed == ['0', '4', '8', '10']
