# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Iterative re-clustering (interval=N), the cluster-balanced sampler and
loss re-weighting, through real Runner runs."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS

import transforms_for_tests  # noqa: F401
from clusterfit_plugin.datasets import ClusterBalancedSampler
from conftest import NUM_IMAGES, PIPELINE, make_cfg
from helpers import free_port


def run(cfg, resume=False):
    cfg = Config(cfg)
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_rounds_reach_persistent_workers(tmp_path, image_root,
                                         source_checkpoint, capsys):
    record = str(tmp_path / 'served.txt')
    work = str(tmp_path / 'w')
    cfg = make_cfg(work, image_root, source_checkpoint, max_epochs=3,
                   interval=1)
    loader = cfg['train_dataloader']
    loader.update(num_workers=1, persistent_workers=True)
    loader['dataset']['dataset']['pipeline'] = [
        dict(type='LoadImageFromFile'),
        dict(type='RecordLabel', out=record),
        dict(type='PackInputs')
    ]
    runner = run(cfg)
    out = capsys.readouterr().out
    assert out.count('NMI with the previous round') == 2

    cache = osp.join(work, 'clusterfit')
    rounds = [np.load(osp.join(cache, 'labels.npy'))] + [
        np.load(osp.join(cache, f'labels_epoch{e}.npy')) for e in (1, 2)
    ]
    assert not np.array_equal(rounds[0], rounds[1]), \
        'the trained model should cluster differently from the source'
    lines = [line.split() for line in open(record)]
    assert len(lines) == 3 * NUM_IMAGES
    pids = {pid for pid, _, _ in lines}
    assert len(pids) == 1 and int(pids.pop()) != os.getpid()
    for epoch in range(3):
        served = lines[epoch * NUM_IMAGES:(epoch + 1) * NUM_IMAGES]
        for _, name, label in served:
            idx = int(name.split('.')[0])
            assert int(label) == rounds[epoch][idx], (epoch, name)
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  rounds[2])


def test_head_reset_drops_momentum(tmp_path, image_root, source_checkpoint):
    runner = run(make_cfg(str(tmp_path / 'w'), image_root,
                          source_checkpoint, interval=5))
    hook = [h for h in runner.hooks
            if type(h).__name__ == 'ClusterFitHook'][0]
    fc = runner.model.head.fc
    state = runner.optim_wrapper.optimizer.state
    assert fc.weight in state and 'momentum_buffer' in state[fc.weight]
    hook._reset_head(runner, 5)
    assert fc.weight not in state and fc.bias not in state
    assert torch.count_nonzero(fc.bias) == 0
    first = fc.weight.detach().clone()
    hook._reset_head(runner, 5)
    torch.testing.assert_close(fc.weight.detach(), first)  # seeded
    assert 0.005 < float(first.std()) < 0.02


def test_resume_restores_the_last_round(tmp_path, image_root,
                                        source_checkpoint, capsys):
    work = str(tmp_path / 'w')
    run(make_cfg(work, image_root, source_checkpoint, max_epochs=3,
                 interval=2))
    round2 = np.load(osp.join(work, 'clusterfit', 'labels_epoch2.npy'))
    capsys.readouterr()
    runner = run(make_cfg(work, image_root, source_checkpoint, max_epochs=4,
                          interval=2), resume=True)
    out = capsys.readouterr().out
    assert 'resumed the labels of the round at epoch 2' in out
    assert 're-clustering' not in out
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  round2)


def test_reweight_loss(tmp_path, image_root, source_checkpoint):
    runner = run(make_cfg(str(tmp_path / 'w'), image_root, source_checkpoint,
                          reweight_loss=True))
    labels = runner.train_dataloader.dataset.labels
    sizes = np.bincount(labels, minlength=3)
    weights = runner.model.head.loss_module.class_weight
    np.testing.assert_allclose(
        weights, NUM_IMAGES / ((sizes > 0).sum() * np.maximum(sizes, 1)))


def labelled_dataset(image_root, labels):
    ds = DATASETS.build(
        dict(type='ClusterFitDataset',
             dataset=dict(type='CustomDataset', data_root=image_root,
                          ann_file='ann.txt', pipeline=PIPELINE)))
    ds.set_labels(labels, num_clusters=4)
    return ds


def skewed_labels():
    # sizes 30 / 10 / 5 / 0 (cluster 3 empty)
    return np.array([0] * 30 + [1] * 10 + [2] * 5)


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


def test_sampler_in_two_gloo_processes(tmp_path, image_root):
    mp.spawn(_sampler_worker,
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
        dict(type='ClusterFitDataset',
             dataset=dict(type='CustomDataset', data_root=image_root,
                          ann_file='ann.txt', pipeline=PIPELINE)))
    with pytest.raises(RuntimeError, match='no labels yet'):
        list(ClusterBalancedSampler(ds, seed=0))
    with pytest.raises(TypeError, match='needs a ClusterFitDataset'):
        ClusterBalancedSampler(ds.dataset, seed=0)


def test_sampler_in_runner(tmp_path, image_root, source_checkpoint):
    cfg = make_cfg(str(tmp_path / 'w'), image_root, source_checkpoint)
    cfg['train_dataloader']['sampler'] = dict(type='ClusterBalancedSampler')
    runner = run(cfg)
    assert runner.epoch == 1
