# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""ChannelsLastHook: the same training as the contiguous run, in the
channels-last layout, and the contiguous layout kept, with a warning, for a
model oneDNN's channels-last backward corrupts memory on.

The defect (docs/status.md): oneDNN's AVX2 weight gradient of a strided 1x1
convolution with fewer than 8 input channels corrupts the heap in the
channels-last format. ``tools/benchmarks/channels_last_repro.py`` shows it
with plain torch; the last test runs it, so a torch that fixes (or widens)
the defect is noticed.
"""
import copy
import glob
import os
import os.path as osp
import platform
import subprocess
import sys

import pytest
import torch
from helpers import BACKBONE, ROOT, TESTS, make_cfg, run_runner
from torch import nn

from clusterfit_plugin.utils import unsafe_cpu_convolutions

SCRIPT = r'''
import os.path as osp
import sys

import numpy as np
import torch
from helpers import make_cfg, run_runner

import clusterfit_plugin  # noqa: F401

work, image_root, source_checkpoint = sys.argv[1:4]
runs = {}
for name, hooks in (('contiguous', []), ('channels_last',
                                         [dict(type='ChannelsLastHook')])):
    cfg = make_cfg(osp.join(work, name), image_root, source_checkpoint)
    # 16 base channels: no strided 1x1 convolution below 16 inputs.
    cfg['model']['backbone'].update(base_channels=16, stem_channels=16)
    cfg['model']['head']['in_channels'] = 128
    cfg['custom_hooks'] += hooks
    runs[name] = run_runner(cfg)
trained = runs['channels_last'].model
reference = runs['contiguous'].model
conv = trained.backbone.conv1.weight
assert conv.is_contiguous(memory_format=torch.channels_last)
assert not reference.backbone.conv1.weight.is_contiguous(
    memory_format=torch.channels_last)
# The optimizer stepped the converted parameters (the same objects)...
optimizer = runs['channels_last'].optim_wrapper.optimizer
assert optimizer.state[conv]['momentum_buffer'].abs().sum() > 0
# ... the same computation: the losses of the first steps agree up to float
# rounding (later ones drift apart through batch norm, chaotically on this
# 12-step toy run, so they are not compared).
losses = {
    name: runner.message_hub.get_scalar('train/loss').data[0][:3]
    for name, runner in runs.items()
}
np.testing.assert_allclose(
    losses['channels_last'], losses['contiguous'], rtol=1e-4)
# Its checkpoint loads into a contiguous model as usual.
saved = torch.load(
    osp.join(work, 'channels_last', 'epoch_1.pth'),
    weights_only=True)['state_dict']
reference.load_state_dict(saved)
torch.testing.assert_close(reference.backbone.conv1.weight, conv)
print('channels-last checks passed', flush=True)
'''


def test_trains_like_the_contiguous_run(tmp_path, image_root,
                                        source_checkpoint):
    # In a fresh process with a timeout: a oneDNN hang must not stall CI.
    done = subprocess.run([
        sys.executable, '-c', SCRIPT,
        str(tmp_path), image_root, source_checkpoint
    ],
                          env=dict(os.environ, PYTHONPATH=TESTS),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'channels-last checks passed' in done.stdout


def test_unsafe_convolutions_by_hand():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, 2),  # 3x3: another oneDNN kernel
        nn.Conv2d(4, 8, 1, 2),  # strided 1x1 with 4 inputs: unsafe
        nn.Conv2d(8, 8, 1, 1),  # 1x1 without a stride
        nn.Conv2d(15, 8, 1, (1, 2)),  # a stride on one side: unsafe
        nn.Conv2d(16, 32, 1, 2),  # 16 inputs
        nn.Conv3d(4, 8, 1, 2))  # 5-D weights are never converted
    assert unsafe_cpu_convolutions(model) == ['1', '3']
    # The tests' toy ResNet: its stage 2 and 3 shortcuts have 4 and 8 inputs,
    # stage 4's has 16.
    from mmpretrain.models import ResNet_CIFAR
    backbone = ResNet_CIFAR(**{
        k: v
        for k, v in BACKBONE.items() if k != 'type'
    })
    assert unsafe_cpu_convolutions(backbone) == [
        'layer2.0.downsample.0', 'layer3.0.downsample.0'
    ]


def test_unsafe_model_stays_contiguous_with_a_warning(tmp_path, image_root,
                                                      source_checkpoint):
    cfg = make_cfg(str(tmp_path), image_root, source_checkpoint)
    cfg['custom_hooks'].append(dict(type='ChannelsLastHook'))
    model = run_runner(copy.deepcopy(cfg)).model
    # (1x1 weights are both contiguous and channels-last: not compared.)
    assert all(not p.is_contiguous(memory_format=torch.channels_last)
               for p in model.parameters() if p.dim() == 4 and p.shape[-1] > 1)
    with open(glob.glob(osp.join(str(tmp_path), '*', '*.log'))[0]) as f:
        log = f.read()
    assert ('ChannelsLastHook: the model stays in the contiguous format: '
            'backbone.layer2.0.downsample.0, backbone.layer3.0.downsample.0'
            in log)
    assert 'tensors in the channels-last memory format' not in log


def _has_avx2() -> bool:
    if platform.machine() not in ('x86_64', 'AMD64'):
        return False
    try:
        with open('/proc/cpuinfo') as f:
            return ' avx2' in f.read()
    except OSError:
        return False


@pytest.mark.skipif(not _has_avx2(), reason='needs an x86 CPU with AVX2')
def test_the_defect_reproduces_with_plain_torch():
    """The rule of :func:`unsafe_cpu_convolutions` against torch itself: a
    strided 1x1 convolution with 4 inputs crashes in oneDNN's AVX2 kernels,
    one with 16 inputs trains."""
    script = osp.join(ROOT, 'tools', 'benchmarks', 'channels_last_repro.py')

    def run(channels):
        return subprocess.run([
            sys.executable, script, '--isa', 'AVX2', '--threads', '1',
            '--trials', '1', '--timeout', '60', '--conv',
            str(channels), '16', '2', '1'
        ],
                              capture_output=True,
                              text=True,
                              timeout=200).stdout

    assert 'crash 1 of 1' in run(4)
    assert 'ok 1 of 1' in run(16)
