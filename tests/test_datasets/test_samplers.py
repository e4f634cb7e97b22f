# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The cluster-balanced sampler: balance, the global RNG, two gloo processes,
and the Runner."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import transforms_for_tests  # noqa: F401
from helpers import PIPELINE, free_port, make_cfg, run_runner
from mmpretrain.registry import DATASETS

from clusterfit_plugin.datasets import ClusterBalancedSampler


def labelled_dataset(image_root, labels):
    ds = DATASETS.build(
        dict(
            type='ClusterFitDataset',
            dataset=dict(
                type='CustomDataset',
                data_root=image_root,
                ann_file='ann.txt',
                pipeline=PIPELINE)))
    ds.set_labels(labels, num_clusters=4)
    return ds


def skewed_labels():
    # sizes 30 / 10 / 5 / 0 (cluster 3 empty)
    return np.array([0] * 30 + [1] * 10 + [2] * 5)


def _sampler_worker(rank, world, image_root, out, port):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    ds = labelled_dataset(image_root, skewed_labels())
    sampler = ClusterBalancedSampler(ds, num_samples=45)
    sampler.set_epoch(2)
    np.save(osp.join(out, f'rank{rank}.npy'), np.array(list(sampler)))
    if rank == 0:
        np.save(osp.join(out, 'epoch.npy'), sampler.epoch_indices())
        np.save(osp.join(out, 'seed.npy'), np.array(sampler.seed))
    dist.destroy_process_group()


def test_sampler_balances_and_keeps_global_rng(image_root):
    ds = labelled_dataset(image_root, skewed_labels())
    sampler = ClusterBalancedSampler(ds, num_samples=300, seed=3)
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    first = list(sampler)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()
    assert torch.equal(torch.get_rng_state(), torch_state)
    counts = np.bincount(skewed_labels()[first], minlength=4)
    assert counts[3] == 0 and len(first) == 300
    assert counts[:3].tolist() == [100, 100, 100]
    assert first == list(sampler)  # same epoch, same order
    sampler.set_epoch(1)
    assert first != list(sampler)


@pytest.mark.slow
def test_sampler_in_two_gloo_processes(tmp_path, image_root):
    mp.spawn(
        _sampler_worker,
        args=(2, image_root, str(tmp_path), free_port()),
        nprocs=2)
    r0 = np.load(tmp_path / 'rank0.npy')
    r1 = np.load(tmp_path / 'rank1.npy')
    epoch = np.load(tmp_path / 'epoch.npy')
    assert len(r0) == len(r1) == 23  # ceil(45 / 2), padded
    merged = np.empty(46, dtype=np.int64)
    merged[0::2], merged[1::2] = r0, r1
    np.testing.assert_array_equal(merged[:45], epoch)
    assert merged[45] == epoch[0]  # padding repeats from the start


def test_sampler_needs_labels(image_root):
    ds = DATASETS.build(
        dict(
            type='ClusterFitDataset',
            dataset=dict(
                type='CustomDataset',
                data_root=image_root,
                ann_file='ann.txt',
                pipeline=PIPELINE)))
    with pytest.raises(RuntimeError, match='no labels yet'):
        list(ClusterBalancedSampler(ds, seed=0))
    with pytest.raises(TypeError, match='needs a ClusterFitDataset'):
        ClusterBalancedSampler(ds.dataset, seed=0)


@pytest.mark.slow
def test_sampler_in_runner(tmp_path, image_root, source_checkpoint):
    cfg = make_cfg(str(tmp_path / 'w'), image_root, source_checkpoint)
    cfg['train_dataloader']['sampler'] = dict(type='ClusterBalancedSampler')
    runner = run_runner(cfg)
    assert runner.epoch == 1
