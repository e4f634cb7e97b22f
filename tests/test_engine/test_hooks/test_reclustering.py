# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Iterative re-clustering (interval=N) and loss re-weighting, through real
Runner runs."""
import copy
import os
import os.path as osp

import numpy as np
import pytest
import transforms_for_tests  # noqa: F401
from helpers import NUM_IMAGES, make_cfg, run_runner

from clusterfit_plugin.clustering import normalized_mutual_info
from clusterfit_plugin.models.heads import weight_loss_by_cluster_size


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
    cache = osp.join(work, 'clusterfit')
    rounds = [np.load(osp.join(cache, 'labels.npy'))] + [
        np.load(osp.join(cache, f'labels_epoch{e}.npy')) for e in (1, 2)
    ]
    assert list(nmi) == pytest.approx([
        normalized_mutual_info(rounds[0], rounds[1]),
        normalized_mutual_info(rounds[1], rounds[2])
    ])
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
def test_resume_refuses_another_runs_rounds(tmp_path, image_root,
                                            source_checkpoint):
    """Two work dirs share a cache_dir, one after the other: resuming the
    first must not train on the second's round of epoch 2 (the old resume
    read it, keyed by the epoch alone)."""
    cache_dir = str(tmp_path / 'shared_cache')

    def cfg(work, max_epochs):
        return make_cfg(
            str(tmp_path / work),
            image_root,
            source_checkpoint,
            max_epochs=max_epochs,
            interval=2,
            cache_dir=cache_dir)

    run_runner(cfg('a', 3))
    run_runner(cfg('b', 3))  # rewrites labels_epoch2.npy
    with pytest.raises(
            ValueError,
            match=r'labels_epoch2\.npy, the labels of the round at epoch 2, '
            r'were written by the run in .*/b work dir, '
            r'not by this one \(.*/a\): two runs share this cache_dir'):
        run_runner(cfg('a', 4), resume=True)
    run_runner(cfg('b', 4), resume=True)  # its own round: resumed


@pytest.mark.slow
def test_reweight_loss(tmp_path, image_root, source_checkpoint):
    runner = run_runner(
        make_cfg(
            str(tmp_path / 'w'),
            image_root,
            source_checkpoint,
            reweight_loss=True))
    # The hook gave the head the weights of its labels (the formula is
    # checked with hand-written values in test_classifier_ops.py).
    expected = copy.deepcopy(runner.model.head)
    weight_loss_by_cluster_size(expected,
                                runner.train_dataloader.dataset.labels, 3)
    assert runner.model.head.loss_module.class_weight == (
        expected.loss_module.class_weight)
