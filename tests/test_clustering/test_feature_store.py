# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The feature store (memory / disk, fp16, resume) and PCA whitening against
scikit-learn."""
import json
import os
import resource
import signal
import subprocess
import sys

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


def test_disk_store_refuses_a_planted_symlink(tmp_path):
    victim = tmp_path / 'victim.txt'
    victim.write_text('precious')
    path = tmp_path / 'f.npy'
    path.symlink_to(victim)
    store = FeatureStore(4, path=str(path), key='a')
    with pytest.raises(
            OSError,
            match='f.npy is a symbolic link that this '
            'run did not create'):
        store.append(np.ones((4, 3), np.float32))
    assert victim.read_text() == 'precious'


def test_disk_store_resume_ignores_a_symlinked_file(tmp_path):
    store = FeatureStore(
        4, path=str(tmp_path / 'real.npy'), key='a', flush_every=2)
    store.append(np.ones((2, 3), np.float32))  # flushed: progress recorded
    link = tmp_path / 'f.npy'
    link.symlink_to(tmp_path / 'real.npy')
    os.replace(tmp_path / 'real.npy.json', tmp_path / 'f.npy.json')
    resumed = FeatureStore(4, path=str(link), key='a')
    assert resumed.rows_done == 0 and resumed.array is None


def test_disk_store_distrusts_a_wrong_progress_file(tmp_path, log):
    path = str(tmp_path / 'f.npy')
    store = FeatureStore(10, path=path, key='a', flush_every=4)
    store.append(np.ones((4, 3), np.float32))  # flushed: rows_done 4
    progress = json.load(open(path + '.json'))
    assert progress['rows_done'] == 4 and progress['block'] == [0, 4]
    progress.update(rows_done=8, block=[4, 8])  # rows 4..7 were never written
    json.dump(progress, open(path + '.json', 'w'))
    again = FeatureStore(10, path=path, key='a', flush_every=4)
    assert again.rows_done == 0 and again.array is None
    assert 'does not match the rows' in log()
    progress.update(rows_done='4')
    json.dump(progress, open(path + '.json', 'w'))
    assert FeatureStore(10, path=path, key='a').rows_done == 0


FULL_DISK_SCRIPT = '''
import sys
import numpy as np
from clusterfit_plugin.clustering import FeatureStore
store = FeatureStore(1024, path=sys.argv[1], key='a')
for _ in range(64):
    store.append(np.ones((16, 256), np.float32))  # 1 MiB in all
store.finish()
'''


def test_disk_store_on_a_full_disk_is_a_clear_error(small_disk):
    path = os.path.join(small_disk, 'features', 'f.npy')
    done = subprocess.run([sys.executable, '-c', FULL_DISK_SCRIPT, path],
                          capture_output=True,
                          text=True,
                          timeout=120)
    # Before the blocks were allocated up front: killed by SIGBUS (-7).
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert f'could not allocate 1.0 MiB for {path}' in done.stderr
    assert "features=dict(storage='memory')" in done.stderr
    assert os.listdir(os.path.dirname(path)) == []


def test_disk_store_over_the_file_size_limit_is_a_clear_error(tmp_path):
    path = str(tmp_path / 'f.npy')
    done = subprocess.run([sys.executable, '-c', FULL_DISK_SCRIPT, path],
                          capture_output=True,
                          text=True,
                          timeout=120,
                          preexec_fn=lambda:
                          (signal.signal(signal.SIGXFSZ, signal.SIG_IGN),
                           resource.setrlimit(resource.RLIMIT_FSIZE,
                                              (1 << 19, 1 << 19))))
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert f'could not allocate 1.0 MiB for {path}' in done.stderr
    assert not os.path.exists(path)


def test_float16_overflow_is_named_as_such():
    store = FeatureStore(4, dtype='float16')
    store.append(np.ones((2, 3), np.float32))
    with pytest.raises(
            ValueError,
            match=r'features reach 1e\+06, beyond the '
            r"float16 range .*features=dict\(dtype='float32'\)"):
        store.append(np.full((2, 3), 1e6, np.float32))


def test_check_dim_runs_before_anything_is_stored(tmp_path):
    seen = []

    def reject(dim):
        seen.append(dim)
        raise ValueError(f'no {dim}')

    store = FeatureStore(4, path=str(tmp_path / 'f.npy'), check_dim=reject)
    with pytest.raises(ValueError, match='no 3'):
        store.append(np.ones((2, 3), np.float32))
    assert seen == [3] and os.listdir(tmp_path) == []


def test_store_refuses_non_finite_rows_and_stays_incomplete(tmp_path):
    path = str(tmp_path / 'f.npy')
    store = FeatureStore(4, path=path, key='a', flush_every=2)
    store.append(np.ones((2, 3), np.float32))  # flushed: 2 rows recorded
    bad = np.ones((2, 3), np.float32)
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match=r'refuses NaN/inf rows \(rows \[3\]'):
        store.append(bad)
    resumed = FeatureStore(4, path=path, key='a', flush_every=2)
    assert resumed.rows_done == 2  # never recorded as complete


RESUME_SCRIPT = '''
import sys
import numpy as np
from clusterfit_plugin.clustering import FeatureStore
store = FeatureStore(200, path=sys.argv[1], key='a', flush_every=10)
assert store.rows_done == 10, store.rows_done
for _ in range(19):
    store.append(np.ones((10, 1024), np.float32))
store.finish()
'''


def test_a_sparse_shard_resumed_on_a_full_disk_is_a_clear_error(
        tmp_path, small_disk):
    """A shard copied with holes (cp --sparse=always) and resumed: its blocks
    are allocated when it is reopened. It used to die by SIGBUS."""
    source = str(tmp_path / 'f.npy')
    store = FeatureStore(200, path=source, key='a', flush_every=10)
    store.append(np.ones((10, 1024), np.float32))  # 40 KiB of 800 recorded
    del store
    path = os.path.join(small_disk, 'f.npy')
    subprocess.run(['cp', '--sparse=always', source, path], check=True)
    subprocess.run(['cp', source + '.json', path + '.json'], check=True)
    with open(os.path.join(small_disk, 'filler'), 'wb') as f:
        f.write(b'\0' * (880 << 10))  # what is left cannot hold the holes
    done = subprocess.run([sys.executable, '-c', RESUME_SCRIPT, path],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert f'could not allocate 0.8 MiB for {path}' in done.stderr
    assert os.path.getsize(path) > 800 << 10  # the rows are kept
