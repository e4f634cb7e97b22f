# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The feature store (memory / disk, fp16, resume) and PCA whitening against
scikit-learn."""
import json
import os

import numpy as np
import pytest
import transforms_for_tests  # noqa: F401
from sklearn.decomposition import PCA

from clusterfit_plugin.clustering import FeatureStore, Preprocessor


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
    np.testing.assert_allclose(
        np.cov(ours, rowvar=False), np.eye(6), atol=1e-3)
    ref = PCA(n_components=6, whiten=True).fit(x).transform(x)
    # Equal up to the sign of each component.
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), rtol=1e-2, atol=1e-2)
    normed = Preprocessor(pca_dim=6).fit(x)(x)
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match='pca dim=20'):
        Preprocessor(pca_dim=20).fit(x)
