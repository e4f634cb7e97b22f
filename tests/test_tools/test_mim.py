# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``mim train mmpretrain`` and ``mim test mmpretrain`` on a plugin config:
mmpretrain's own scripts, with nothing but the config's ``custom_imports``,
give the labels and weights of the stock Runner and the score of
``tools/test.py``."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from helpers import ROOT, run_runner
from mmengine.config import Config
from test_launch_scripts import accuracy, cfg_with_test_split, run

MIM = [sys.executable, '-m', 'mim']


@pytest.mark.slow
def test_mim_train_and_test(tmp_path, image_root, source_checkpoint):
    reference = str(tmp_path / 'runner')
    run_runner(cfg_with_test_split(reference, image_root, source_checkpoint))
    config = str(tmp_path / 'cfg.py')
    Config(
        cfg_with_test_split(
            str(tmp_path / 'unused'), image_root,
            source_checkpoint)).dump(config)

    # The tiny config has no dataloader workers, which mmpretrain's
    # train.py would give persistent workers: torch rejects that.
    work = str(tmp_path / 'mim')
    out = run(
        MIM + [
            'train', 'mmpretrain', config, '--work-dir', work, '-y',
            '--no-persistent-workers'
        ], str(tmp_path))
    assert osp.join('mmpretrain', '.mim', 'tools', 'train.py') in out
    np.testing.assert_array_equal(
        np.load(osp.join(work, 'clusterfit', 'labels.npy')),
        np.load(osp.join(reference, 'clusterfit', 'labels.npy')))
    trained = torch.load(osp.join(work, 'epoch_1.pth'), weights_only=False)
    expected = torch.load(
        osp.join(reference, 'epoch_1.pth'), weights_only=False)
    for name, value in expected['state_dict'].items():
        torch.testing.assert_close(trained['state_dict'][name], value)

    checkpoint = osp.join(work, 'epoch_1.pth')
    out = run(
        MIM + [
            'test', 'mmpretrain', config, '--checkpoint', checkpoint,
            '--work-dir',
            str(tmp_path / 'mim_test'), '-y'
        ], str(tmp_path))
    assert osp.join('mmpretrain', '.mim', 'tools', 'test.py') in out
    ours = run([
        sys.executable,
        osp.join(ROOT, 'tools', 'test.py'), config, checkpoint, '--work-dir',
        str(tmp_path / 'ours')
    ], str(tmp_path))
    assert accuracy(out) == accuracy(ours)
