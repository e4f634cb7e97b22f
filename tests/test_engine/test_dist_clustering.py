# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Distributed clustering: the sample assembled by index, and the wait that
keeps the other ranks clear of the process-group timeout while rank 0 fits
k-means."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from datetime import timedelta

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
import transforms_for_tests  # noqa: F401
from helpers import TESTS, free_port

from clusterfit_plugin.clustering import KMeans, Preprocessor
from clusterfit_plugin.engine.dist_clustering import (assemble_sample,
                                                      cluster_by_index)
from clusterfit_plugin.engine.rank_protocol import default_store

# ~4 s of k-means (no early stop), fitted on a sample of 20 of the 40 points
# (max_points_per_centroid=5, K=4): the sample crosses both ranks.
SLOW_KMEANS = dict(
    num_clusters=4,
    niter=25000,
    early_stop_threshold=-1,
    max_points_per_centroid=5,
    seed=0,
    backend='torch')

# A rank launched by hand (env://, as slurm and mpi launchers start them):
# clusters 40 points of 32-d with the settings given in argv[1] (a dict
# literal: Preprocessor and KMeans arguments, wait_poll_s), writing a marker
# file when rank 0 starts its fit.
RANK_SCRIPT = r'''
import ast, os, sys, time
from datetime import timedelta
import numpy as np
import torch.distributed as dist
from clusterfit_plugin.clustering import KMeans, Preprocessor
import clusterfit_plugin.engine.dist_clustering as dist_clustering
from clusterfit_plugin.engine.dist_clustering import cluster_by_index
from clusterfit_plugin.engine.rank_protocol import (all_ranks_done,
                                                    rank0_then_broadcast)

args = ast.literal_eval(sys.argv[1])


class MarkedKMeans(KMeans):
    def fit(self, x, preprocessor=None):
        open(os.environ['MARKER'], 'w').close()
        if args.get('die_in_fit'):
            time.sleep(args['die_in_fit'])
            os._exit(9)  # killed: no report, and the file store lives on
        return super().fit(x, preprocessor)


dist.init_process_group('gloo', init_method=args.get('init', 'env://'),
                        rank=int(os.environ['RANK']),
                        world_size=int(os.environ['WORLD_SIZE']),
                        timeout=timedelta(seconds=600))
rank, world = dist.get_rank(), dist.get_world_size()
x = np.random.default_rng(0).normal(size=(40, 32)).astype(np.float32)
idx = np.arange(rank, 40, world)


def extract():
    if rank == args.get('fail_extraction_on'):
        raise ValueError('a corrupt image on this rank')
    if rank == args.get('stall_extraction_on'):
        open(os.environ['MARKER'] + '.extracting', 'w').close()
        time.sleep(600)  # killed meanwhile
    return x[idx]


def broken_assignment(*a, **k):
    raise MemoryError('no room for the distances')


def die(*a, **k):
    os._exit(9)  # as if killed: no report, no cleanup


if rank == args.get('die_in_gather_on'):
    dist_clustering.all_gather_object = die
if args.get('fail_broadcast'):
    rank0_then_broadcast(lambda: 1 / 0)
if rank == args.get('fail_assignment_on'):
    dist_clustering.assign_to_centroids = broken_assignment
feats = all_ranks_done(extract, 'extraction', 0, args['wait_poll_s'])
cluster_by_index(feats, idx, 40, MarkedKMeans(**args['kmeans']),
                 Preprocessor(**args['preprocessor']),
                 wait_poll_s=args['wait_poll_s'])
print('rank', rank, 'done', flush=True)
'''


@pytest.fixture
def start_ranks(tmp_path):
    """Start ranks of RANK_SCRIPT by hand with env://; kills what is left
    of them after the test."""
    procs = []

    def start(settings, world=2):
        procs.extend(_start_ranks(tmp_path, settings, world))
        return procs

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def _start_ranks(tmp_path, settings, world):
    """Start ``world`` ranks of RANK_SCRIPT by hand with env://."""
    script = tmp_path / 'rank.py'
    script.write_text(RANK_SCRIPT)
    port = str(free_port())
    procs = []
    for rank in range(world):
        env = dict(
            os.environ,
            RANK=str(rank),
            WORLD_SIZE=str(world),
            LOCAL_RANK=str(rank),
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=port,
            MARKER=str(tmp_path / 'fitting'),
            OMP_NUM_THREADS='1',
            PYTHONPATH=TESTS)
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script),
                 repr(settings)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True))
    return procs


def finish(proc, timeout):
    """The output of ``proc`` once it ends; fails (and kills it) when it
    is still running after ``timeout`` s."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
        pytest.fail(f'the rank still runs after {timeout} s:\n{out[-3000:]}')
    return out


def _slow_fit_worker(rank, world, out, port):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group(
        'gloo', rank=rank, world_size=world, timeout=timedelta(seconds=2))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    idx = np.arange(rank, 40, world)
    # Rank 0 fits for twice the process group's timeout.
    labels, fit = cluster_by_index(
        x[idx],
        idx,
        40,
        KMeans(**SLOW_KMEANS),
        Preprocessor(),
        wait_poll_s=0.5)
    np.save(osp.join(out, f'labels{rank}.npy'), labels)
    np.save(osp.join(out, f'centroids{rank}.npy'), fit.centroids)
    dist.destroy_process_group()


def test_assemble_sample_orders_rows_and_checks_coverage():
    x = np.arange(40, dtype=np.float16).reshape(10, 4)
    chosen = np.array([7, 2, 9, 0])
    # Two ranks' rows, in their own order: rank 0 holds even indices.
    parts = [(np.array([0, 2]), x[[0, 2]]), (np.array([9, 7]), x[[9, 7]])]
    sample = assemble_sample(parts, chosen, 10)
    assert len(parts) == 2  # not emptied
    # Kept in the stored dtype: a float16 store's sample takes half the
    # host memory of a float32 copy.
    assert sample.dtype == np.float16
    np.testing.assert_array_equal(sample, x[chosen])
    with pytest.raises(RuntimeError, match='sent 3 of the 4 sample rows'):
        assemble_sample([(np.array([0, 2, 9]), x[[0, 2, 9]]),
                         (np.array([]), np.empty((0, 0), np.float32))], chosen,
                        10)


@pytest.mark.slow
def test_long_fit_does_not_trip_the_process_group_timeout(tmp_path):
    mp.spawn(_slow_fit_worker, args=(2, str(tmp_path), free_port()), nprocs=2)
    a, b = np.load(tmp_path / 'labels0.npy'), np.load(tmp_path / 'labels1.npy')
    np.testing.assert_array_equal(a, b)
    # The same as one process fitting on the same sample, in the same order.
    x = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    pre = Preprocessor()
    km = KMeans(**SLOW_KMEANS).fit(x, pre)
    assert km.fit_size == 20 and km.fit_iterations == 25000
    np.testing.assert_array_equal(
        np.load(tmp_path / 'centroids0.npy'), km.centroids)
    np.testing.assert_array_equal(
        np.load(tmp_path / 'centroids1.npy'), km.centroids)
    np.testing.assert_array_equal(a, km.assign(x, pre)[0])


def test_the_private_store_accessor_still_exists(tmp_path):
    """The wait for rank 0 polls the default group's store through
    ``torch.distributed``'s private ``_get_default_store``: a torch without
    it fails here."""
    assert default_store() is None  # no process group
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    try:
        store = default_store()
        store.set('clusterfit/test', '1')
        store.wait(['clusterfit/test'], timedelta(seconds=1))
        assert store.get('clusterfit/test') == b'1'
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_a_failed_fit_on_rank0_ends_every_rank_with_its_error(start_ranks):
    # PCA to 64 dimensions of 32-d features fails on rank 0, in the fit.
    procs = start_ranks(
        dict(
            kmeans=dict(num_clusters=4, seed=0),
            preprocessor=dict(pca_dim=64),
            wait_poll_s=1.0))
    out0, out1 = finish(procs[0], 60), finish(procs[1], 60)
    assert procs[0].returncode != 0 and procs[1].returncode != 0
    assert 'ValueError: pca dim=64 must lie in [1, 32]' in out0, out0
    assert 'rank 0 failed while fitting k-means, so this rank stops too: ' \
        'ValueError: pca dim=64 must lie in [1, 32]' in out1, out1
    assert 'done' not in out0 + out1
    assert len(out1) < 20000  # one error, not a flood of C++ traces


@pytest.mark.slow
@pytest.mark.parametrize('failed', [0, 1])
def test_a_failed_extraction_on_any_rank_ends_every_rank(start_ranks, failed):
    # Without the store's rendezvous the other rank fails in the gather of
    # cluster_by_index with gloo's "connection closed by peer", no cause.
    # A failed rank 0 waits up to one slice for the others to read its
    # error (it hosts the store): 5 s, for a rank started late on a busy box.
    procs = start_ranks(
        dict(
            kmeans=dict(num_clusters=4, seed=0),
            preprocessor=dict(),
            wait_poll_s=5.0,
            fail_extraction_on=failed))
    outs = [finish(proc, 120) for proc in procs]
    assert all(proc.returncode != 0 for proc in procs)
    assert 'ValueError: a corrupt image on this rank' in outs[failed]
    assert f'rank {failed} failed in extraction, so this rank stops too: ' \
        'ValueError: a corrupt image on this rank' in outs[1 - failed]
    assert 'rank 0 done' not in outs[0] and 'rank 1 done' not in outs[1]


@pytest.mark.slow
@pytest.mark.parametrize('fault, message', [
    (dict(fail_broadcast=True), 'rank 0 failed, so this rank stops too: '
     'ZeroDivisionError: division by zero'),
    (dict(fail_assignment_on=1), 'rank 1 failed in assignment, so this rank '
     'stops too: MemoryError: no room for the distances'),
])
def test_failures_elsewhere_name_their_cause(start_ranks, fault, message):
    procs = start_ranks(
        dict(
            kmeans=dict(num_clusters=4, seed=0),
            preprocessor=dict(),
            wait_poll_s=5.0,
            **fault))
    outs = [finish(proc, 120) for proc in procs]
    assert all(proc.returncode != 0 for proc in procs)
    failed = 1 if 'fail_assignment_on' in fault else 0
    assert message in outs[1 - failed], outs[1 - failed][-3000:]


@pytest.mark.slow
def test_a_rank_killed_in_its_extraction_ends_the_others(
        tmp_path, start_ranks):
    poll = 1.0
    procs = start_ranks(
        dict(
            kmeans=dict(num_clusters=4, seed=0),
            preprocessor=dict(),
            wait_poll_s=poll,
            stall_extraction_on=1))
    deadline = time.time() + 60
    while not (tmp_path / 'fitting.extracting').exists():
        assert time.time() < deadline and procs[0].poll() is None, \
            finish(procs[0], 1)
        time.sleep(0.1)
    time.sleep(2 * poll)  # rank 0 is done and waits in its slices
    os.killpg(procs[1].pid, signal.SIGKILL)
    killed = time.time()
    out0 = finish(procs[0], 30)
    ended = time.time() - killed
    assert procs[0].returncode != 0
    assert 'gave up waiting for rank 1 to finish extraction: it has given ' \
        'no sign of life for 2s' in out0, out0[-3000:]
    assert ended <= 3 * poll + 1.0, ended


@pytest.mark.slow
def test_a_lost_store_ends_the_waiting_ranks_within_two_slices(
        tmp_path, start_ranks):
    poll = 1.0
    # Rank 0 fits "forever" (it is killed during the fit).
    procs = start_ranks(
        dict(
            kmeans=dict(SLOW_KMEANS, niter=10**9),
            preprocessor=dict(),
            wait_poll_s=poll))
    deadline = time.time() + 60
    while not (tmp_path / 'fitting').exists():
        assert time.time() < deadline and procs[1].poll() is None, \
            finish(procs[1], 1)
        time.sleep(0.1)
    time.sleep(2 * poll)  # rank 1 is in its wait slices
    os.killpg(procs[0].pid, signal.SIGKILL)
    killed = time.time()
    out1 = finish(procs[1], 30)
    ended = time.time() - killed
    procs[0].wait()
    assert procs[1].returncode != 0
    assert "lost the process group's store while waiting for rank 0" in out1
    assert 'waiting for rank 0 to fit k-means' in out1
    assert ended <= 2 * poll + 1.0, ended
    assert len(out1) < 20000


@pytest.mark.slow
def test_rank0_dead_in_its_fit_is_noticed_when_the_store_outlives_it(
        tmp_path, start_ranks):
    """With a file:// store (or torchrun's agent store) rank 0's death does
    not take the store with it: the old rank 1 waited forever. Rank 0 now
    beats while it fits."""
    poll = 1.0
    procs = start_ranks(
        dict(
            kmeans=dict(num_clusters=4, niter=5, seed=0),
            preprocessor=dict(),
            wait_poll_s=poll,
            die_in_fit=3 * poll,
            init=f'file://{tmp_path / "store"}'))
    out0 = finish(procs[0], 60)
    died = time.time()
    out1 = finish(procs[1], 30)
    assert procs[0].returncode == 9, out0[-3000:]
    assert procs[1].returncode != 0
    assert 'gave up waiting for rank 0 to fit k-means: it has given no sign ' \
        'of life' in out1, out1[-3000:]
    assert time.time() - died <= 4 * poll + 5.0


@pytest.mark.slow
def test_a_rank_lost_in_the_labels_gather_is_named(start_ranks):
    """A rank that dies after its assignment, as the labels are gathered (a
    collective, not a store wait), ends the others with an error naming
    the step and the lost peer, not a bare transport error."""
    procs = start_ranks(
        dict(
            kmeans=dict(num_clusters=4, seed=0),
            preprocessor=dict(),
            wait_poll_s=1.0,
            die_in_gather_on=1))
    start = time.time()
    out0 = finish(procs[0], 60)
    assert procs[0].returncode != 0 and procs[1].wait() == 9
    assert 'another rank was lost while gathering the labels' in out0, \
        out0[-3000:]
    assert time.time() - start < 60
