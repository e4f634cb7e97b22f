"""Atomic files and the fingerprinted cache."""
import os

import numpy as np
import pytest

from clusterfit_plugin.engine.cache import (ClusterCache, atomic_save_json,
                                            atomic_save_npy,
                                            combine_fingerprint)


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
    cache.save(np.array([0, 1, 1, 0]), np.zeros((2, 3)),
               dict(fingerprint=fp, fingerprint_parts=parts))
    labels, manifest = cache.load(fp, 4)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 1, 0]
    assert cache.load(fp, 5) is None  # another dataset length
    other = dict(parts, source_weights='c')
    assert cache.load(combine_fingerprint(other), 4) is None
    assert cache.stale_parts(other) == ['source_weights']
    assert cache.stale_parts(parts) == []


def test_save_invalidates_old_manifest_first(tmp_path, monkeypatch):
    cache = ClusterCache(str(tmp_path))
    old = dict(fingerprint='old', fingerprint_parts={})
    cache.save(np.zeros(4, np.int64), np.zeros((2, 2)), old)

    import clusterfit_plugin.engine.cache as cache_module
    real = cache_module.atomic_save_npy

    def crash_on_centroids(path, array):
        if path.endswith('centroids.npy'):
            raise OSError(28, 'No space left on device')
        real(path, array)

    monkeypatch.setattr(cache_module, 'atomic_save_npy', crash_on_centroids)
    with pytest.raises(OSError):
        cache.save(np.ones(4, np.int64), np.zeros((2, 2)),
                   dict(fingerprint='new', fingerprint_parts={}))
    # Neither the old nor the new result counts as valid now.
    assert cache.read_manifest() is None
    assert cache.load('old', 4) is None and cache.load('new', 4) is None
