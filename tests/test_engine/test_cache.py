# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Atomic files and the fingerprinted cache."""
import os

import numpy as np
import pytest
from helpers import cache_locked_by_another_process

from clusterfit_plugin.engine.cache import ClusterCache
from clusterfit_plugin.engine.fingerprint import combine_fingerprint
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
    cache.save(np.zeros(3, np.int64), np.zeros((2, 2)), dict(v='e'))
    path = cache.save_round(2, np.array([1, 0, 1]), 'run')
    assert os.path.basename(path) == 'labels_epoch2.npy'
    assert cache.load_round(2, 'run').tolist() == [1, 0, 1]
    cache.save(
        np.zeros(3, np.int64), np.zeros((2, 2)), dict(v='f'), num_samples=3)
    with pytest.raises(
            FileNotFoundError,
            match=r'labels_epoch2\.npy, the '
            'labels of the round at epoch 2, is '
            'missing'):
        cache.load_round(2, 'run')
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


def saved(tmp_path, labels=(0, 1, 1, 0), num_clusters=2):
    """A cache holding ``labels``, with its fingerprint."""
    cache = ClusterCache(str(tmp_path / 'c'))
    parts = dict(samples='a', source_weights='b')
    cache.save(
        np.array(labels, np.int64),
        np.zeros((num_clusters, 3)),
        parts,
        num_clusters=num_clusters)
    return cache, combine_fingerprint(parts)


def test_labels_the_manifest_does_not_vouch_for_are_rebuilt(tmp_path, log):
    cache, fp = saved(tmp_path)
    assert cache.load(fp, 4) is not None
    # Another run's labels of the same length and range beside this manifest.
    atomic_save_npy(cache.path('labels.npy'), np.array([1, 1, 0, 0]))
    assert cache.load(fp, 4) is None
    assert 'its bytes are not the ones the manifest recorded' in log()
    manifest = cache.read_manifest()
    del manifest['files']  # a manifest that vouches for nothing
    atomic_save_json(cache.path('manifest.json'), manifest)
    assert cache.load(fp, 4) is None


def test_empty_labels_file_is_a_miss_not_an_eof_error(tmp_path, log):
    cache, fp = saved(tmp_path)
    open(cache.path('labels.npy'), 'wb').close()
    assert cache.load(fp, 4) is None
    assert 'labels.npy matches the fingerprint but' in log()


def test_out_of_range_cached_labels_are_rebuilt(tmp_path, log):
    cache, fp = saved(tmp_path, labels=(0, 1, 5, 0))
    assert cache.load(fp, 4) is None
    assert 'does not hold 4 labels in [0, K)' in log()


@pytest.mark.parametrize('content',
                         ['[1, 2]', '{"fingerprint": 3}', '"x"', '{"a"'])
def test_manifest_of_another_shape_is_no_cache(tmp_path, log, content):
    cache, fp = saved(tmp_path)
    with open(cache.path('manifest.json'), 'w') as f:
        f.write(content)
    assert cache.read_manifest() is None
    assert cache.stale_parts(dict(samples='a')) is None
    assert cache.lookup(dict(samples='a', source_weights='b'), 4) is None
    assert 'is not a manifest of this plugin' in log()


def test_round_file_changed_or_empty_names_the_file(tmp_path):
    cache, _ = saved(tmp_path)
    path = cache.save_round(3, np.array([1, 0, 1, 1]), 'run')
    assert cache.load_round(3, 'run').tolist() == [1, 0, 1, 1]
    for damage in (b'', np.lib.format.MAGIC_PREFIX):
        with open(path, 'wb') as f:
            f.write(damage)
        with pytest.raises(
                ValueError,
                match=r'labels_epoch3\.npy, the labels'
                ' of the round at epoch 3, are not'):
            cache.load_round(3, 'run')


def test_save_survives_a_file_another_run_removed(tmp_path, monkeypatch):
    cache, fp = saved(tmp_path)
    import clusterfit_plugin.engine.cache as cache_module
    listdir = os.listdir
    # Forced interleaving: a round file is listed, then gone before removal.
    monkeypatch.setattr(cache_module.os, 'listdir',
                        lambda d: listdir(d) + ['labels_epoch9.npy'])
    cache.save(np.zeros(4, np.int64), np.zeros((2, 3)), dict(samples='z'))
    assert cache.read_manifest()['fingerprint_parts'] == dict(samples='z')


def test_files_get_the_permissions_of_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_save_npy(str(tmp_path / 'a.npy'), np.arange(3))
    finally:
        os.umask(old)
    assert (tmp_path / 'a.npy').stat().st_mode & 0o777 == 0o640


def test_a_second_run_on_a_locked_cache_fails_naming_the_holder(tmp_path):
    directory = str(tmp_path / 'c')
    cache = ClusterCache(directory)
    with cache_locked_by_another_process(directory) as pid:
        with pytest.raises(
                RuntimeError,
                match=rf'c is in use by pid {pid} on .* since .*'
                r'give this one its own cache_dir'):
            cache.acquire()
    cache.acquire()  # a killed holder leaves no lock
    cache.acquire()  # this process already holds it
    cache.release()


def test_lock_removes_what_killed_writes_left(tmp_path):
    cache, fp = saved(tmp_path)
    os.makedirs(cache.path('features'))
    for name in ('.labels.npy.x1.tmp', 'features/.f.npy.json.x2.tmp'):
        open(cache.path(name), 'w').close()
    cache.acquire()
    cache.release()
    assert sorted(os.listdir(cache.directory)) == [
        '.lock', 'centroids.npy', 'features', 'labels.npy', 'manifest.json'
    ]
    assert os.listdir(cache.path('features')) == []


def test_unusable_cache_dir_is_an_error_at_acquire(tmp_path):
    (tmp_path / 'gone').symlink_to(tmp_path / 'nowhere')
    with pytest.raises(OSError, match=r'cache_dir .*gone cannot be used'):
        ClusterCache(str(tmp_path / 'gone')).acquire()


def test_shards_of_another_world_size_are_dropped(tmp_path):
    cache = ClusterCache(str(tmp_path))
    for world_size in (1, 2):
        store = cache.feature_store(4, 'float32', 'a' * 64, 0, world_size, 8)
        store.append(np.ones((4, 3), np.float32))
        store.finish()
    cache.drop_other_shards(2)
    assert sorted(os.listdir(tmp_path / 'features')) == [
        'a' * 16 + '-rank0-of-2.npy', 'a' * 16 + '-rank0-of-2.npy.json'
    ]


def test_a_fifo_planted_at_the_labels_is_a_miss_not_a_hang(tmp_path):
    """The old lookup hashed labels.npy and blocked forever on a FIFO."""
    import threading
    cache, fingerprint = saved(tmp_path)
    os.remove(cache.path('labels.npy'))
    os.mkfifo(cache.path('labels.npy'))
    result = []
    lookup = threading.Thread(
        target=lambda: result.append(cache.load(fingerprint, 4)), daemon=True)
    lookup.start()
    lookup.join(timeout=30)
    assert not lookup.is_alive() and result == [None]


def test_a_directory_where_a_cache_file_goes_is_refused_at_the_lock(tmp_path):
    """The old run found it only when it wrote the labels, after the whole
    k-means."""
    cache = ClusterCache(str(tmp_path / 'c'))
    os.makedirs(cache.path('labels.npy'))
    with pytest.raises(IsADirectoryError, match=r'labels\.npy is a directory'):
        cache.acquire()
    cache.release()


@pytest.mark.parametrize('sub', ['features', 'diagnostics'])
def test_a_linked_sub_directory_is_refused(tmp_path, sub):
    """The cache deletes stale files in features/ and replaces files in
    diagnostics/: through a link it did so in the link's target."""
    victim = tmp_path / 'victim'
    victim.mkdir()
    (victim / '.stale.tmp').write_text('precious')
    (victim / 'metrics_source.json').write_text('precious')
    cache = ClusterCache(str(tmp_path / 'c'))
    os.makedirs(cache.directory)
    os.symlink(victim, cache.directory + '/' + sub)
    with pytest.raises(OSError, match=f'{sub} is a symbolic link'):
        cache.acquire()
    cache.release()
    with pytest.raises(OSError, match='is a symbolic link'):
        cache.path(sub)
    assert sorted(os.listdir(victim)) == ['.stale.tmp', 'metrics_source.json']
