# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Iterative re-clustering (interval=N) and loss re-weighting, through real
Runner runs."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import transforms_for_tests  # noqa: F401
from helpers import NUM_IMAGES, make_cfg, run_runner


@pytest.mark.slow
def test_rounds_reach_persistent_workers(tmp_path, image_root,
                                         source_checkpoint, rounds):
    record = str(tmp_path / 'served.txt')
    work = str(tmp_path / 'w')
    cfg = make_cfg(
        work, image_root, source_checkpoint, max_epochs=3, interval=1)
    loader = cfg['train_dataloader']
    loader.update(num_workers=1, persistent_workers=True)
    loader['dataset']['dataset']['pipeline'] = [
        dict(type='LoadImageFromFile'),
        dict(type='RecordLabel', out=record),
        dict(type='PackInputs')
    ]
    runner = run_runner(cfg)
    # The source round, then one per later epoch with the trained model,
    # each scored against the previous one in the message hub.
    assert rounds == [('backbone', 0), ('backbone', 1), ('backbone', 2)]
    nmi = runner.message_hub.get_scalar('train/clusterfit_nmi').data[0]
    assert len(nmi) == 2 and all(0 <= v <= 1 for v in nmi)

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


@pytest.mark.slow
def test_head_reset_drops_momentum(tmp_path, image_root, source_checkpoint):
    runner = run_runner(
        make_cfg(
            str(tmp_path / 'w'), image_root, source_checkpoint, interval=5))
    hook = [h for h in runner.hooks if type(h).__name__ == 'ClusterFitHook'][0]
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


@pytest.mark.slow
def test_resume_restores_the_last_round(tmp_path, image_root,
                                        source_checkpoint, rounds):
    work = str(tmp_path / 'w')
    run_runner(
        make_cfg(
            work, image_root, source_checkpoint, max_epochs=3, interval=2))
    round2 = np.load(osp.join(work, 'clusterfit', 'labels_epoch2.npy'))
    assert rounds == [('backbone', 0), ('backbone', 2)]
    runner = run_runner(
        make_cfg(
            work, image_root, source_checkpoint, max_epochs=4, interval=2),
        resume=True)
    # Resumed at epoch 3: the round of epoch 2 is read back, none is redone.
    assert rounds == [('backbone', 0), ('backbone', 2)]
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  round2)


@pytest.mark.slow
def test_reweight_loss(tmp_path, image_root, source_checkpoint):
    runner = run_runner(
        make_cfg(
            str(tmp_path / 'w'),
            image_root,
            source_checkpoint,
            reweight_loss=True))
    labels = runner.train_dataloader.dataset.labels
    sizes = np.bincount(labels, minlength=3)
    weights = runner.model.head.loss_module.class_weight
    np.testing.assert_allclose(
        weights, NUM_IMAGES / ((sizes > 0).sum() * np.maximum(sizes, 1)))
