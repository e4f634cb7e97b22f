# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Atomic files and the fingerprinted cache."""
import os

import numpy as np
import pytest

from clusterfit_plugin.engine.cache import ClusterCache, combine_fingerprint
from clusterfit_plugin.fileio import atomic_save_json, atomic_save_npy


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = str(tmp_path / 'labels.npy')
    atomic_save_npy(path, np.arange(3))
    with pytest.raises(ValueError):
        # Object arrays cannot be saved without pickle: fails mid-write.
        atomic_save_npy(path, np.array([object()]))
    np.testing.assert_array_equal(np.load(path), np.arange(3))
    assert os.listdir(tmp_path) == ['labels.npy']


def test_unwritable_location_names_the_path(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(OSError, match=r'could not write .*file/sub/m.json'):
        atomic_save_json(str(blocker / 'sub' / 'm.json'), {})


def test_cache_hit_miss_and_stale_parts(tmp_path):
    cache = ClusterCache(str(tmp_path / 'c'))
    parts = dict(samples='a', source_weights='b')
    fp = combine_fingerprint(parts)
    assert cache.load(fp, 4) is None and cache.stale_parts(parts) is None
    cache.save(np.array([0, 1, 1, 0]), np.zeros((2, 3)), parts)
    labels, manifest = cache.load(fp, 4)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 1, 0]
    assert cache.load(fp, 5) is None  # another dataset length
    other = dict(parts, source_weights='c')
    assert cache.load(combine_fingerprint(other), 4) is None
    assert cache.stale_parts(other) == ['source_weights']
    assert cache.stale_parts(parts) == []


def test_save_invalidates_old_manifest_first(tmp_path, monkeypatch):
    cache = ClusterCache(str(tmp_path))
    old, new = dict(v='old'), dict(v='new')
    cache.save(np.zeros(4, np.int64), np.zeros((2, 2)), old)

    import clusterfit_plugin.engine.cache as cache_module
    real = cache_module.atomic_save_npy

    def crash_on_centroids(path, array):
        if path.endswith('centroids.npy'):
            raise OSError(28, 'No space left on device')
        real(path, array)

    monkeypatch.setattr(cache_module, 'atomic_save_npy', crash_on_centroids)
    with pytest.raises(OSError):
        cache.save(np.ones(4, np.int64), np.zeros((2, 2)), new)
    # Neither the old nor the new result counts as valid now.
    assert cache.read_manifest() is None
    assert cache.load(combine_fingerprint(old), 4) is None
    assert cache.load(combine_fingerprint(new), 4) is None


def test_round_files_and_a_new_source_clustering_drops_them(tmp_path):
    cache = ClusterCache(str(tmp_path))
    path = cache.save_round(2, np.array([1, 0, 1]))
    assert os.path.basename(path) == 'labels_epoch2.npy'
    assert cache.load_round(2).tolist() == [1, 0, 1]
    cache.save(
        np.zeros(3, np.int64), np.zeros((2, 2)), dict(v='f'), num_samples=3)
    with pytest.raises(
            FileNotFoundError,
            match=r'labels_epoch2\.npy, the '
            'labels of the re-clustering round at epoch 2, is '
            'missing'):
        cache.load_round(2)
    manifest = cache.read_manifest()
    assert manifest['fingerprint'] == combine_fingerprint(dict(v='f'))
    assert manifest['num_samples'] == 3
    assert manifest['versions']['numpy'] == np.__version__
    assert manifest['created']


def test_feature_store_drops_this_ranks_shards_of_other_features(tmp_path):
    cache = ClusterCache(str(tmp_path))
    store = cache.feature_store(4, 'float32', 'a' * 64, 0, 2, 8)
    store.append(np.ones((4, 3), np.float32))
    store.finish()
    other_rank = cache.feature_store(4, 'float32', 'a' * 64, 1, 2, 8)
    other_rank.append(np.ones((4, 3), np.float32))
    other_rank.finish()
    cache.feature_store(4, 'float32', 'b' * 64, 0, 2, 8)
    names = os.listdir(tmp_path / 'features')
    assert not any(n.startswith('a' * 16) and 'rank0' in n for n in names)
    assert any(n.startswith('a' * 16) and 'rank1' in n for n in names)
