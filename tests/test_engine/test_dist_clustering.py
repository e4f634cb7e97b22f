# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Distributed clustering: the sample assembled by index, and the wait that
keeps the other ranks clear of the process-group timeout while rank 0 fits
k-means."""
import os
import os.path as osp
from datetime import timedelta

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
import transforms_for_tests  # noqa: F401
from helpers import free_port

from clusterfit_plugin.clustering import KMeans, Preprocessor
from clusterfit_plugin.engine.dist_clustering import (_default_store,
                                                      assemble_sample,
                                                      cluster_by_index)

# ~4 s of k-means (no early stop), fitted on a sample of 20 of the 40 points
# (max_points_per_centroid=5, K=4): the sample crosses both ranks.
SLOW_KMEANS = dict(
    num_clusters=4,
    niter=25000,
    early_stop_threshold=-1,
    max_points_per_centroid=5,
    seed=0,
    backend='torch')


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
    assert parts == [] and sample.dtype == np.float32
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
    km = KMeans(**SLOW_KMEANS).fit(pre(x))
    assert km.fit_size == 20 and km.fit_iterations == 25000
    np.testing.assert_array_equal(
        np.load(tmp_path / 'centroids0.npy'), km.centroids)
    np.testing.assert_array_equal(
        np.load(tmp_path / 'centroids1.npy'), km.centroids)
    np.testing.assert_array_equal(a, km.assign(pre(x))[0])


def test_the_private_store_accessor_still_exists(tmp_path):
    """The wait for rank 0 polls the default group's store through
    ``torch.distributed``'s private ``_get_default_store``: a torch without
    it fails here."""
    assert _default_store() is None  # no process group
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    try:
        store = _default_store()
        store.set('clusterfit/test', '1')
        store.wait(['clusterfit/test'], timedelta(seconds=1))
        assert store.get('clusterfit/test') == b'1'
    finally:
        dist.destroy_process_group()
