# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""ChannelsLastHook: the same training as the contiguous run, in the
channels-last layout."""
import os.path as osp

import numpy as np
import torch
from helpers import make_cfg, run_runner


def test_trains_like_the_contiguous_run(tmp_path, image_root,
                                        source_checkpoint):
    runs = {}
    for name, hooks in (('contiguous', []), ('channels_last',
                                             [dict(type='ChannelsLastHook')])):
        cfg = make_cfg(str(tmp_path / name), image_root, source_checkpoint)
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
    # ... the same computation: the losses of the first steps agree up to
    # float rounding (later ones drift apart through batch norm, chaotically
    # on this 12-step toy run, so they are not compared).
    losses = {
        name: runner.message_hub.get_scalar('train/loss').data[0][:3]
        for name, runner in runs.items()
    }
    np.testing.assert_allclose(
        losses['channels_last'], losses['contiguous'], rtol=1e-4)
    # Its checkpoint loads into a contiguous model as usual.
    saved = torch.load(
        osp.join(tmp_path, 'channels_last', 'epoch_1.pth'),
        weights_only=True)['state_dict']
    reference.load_state_dict(saved)
    torch.testing.assert_close(reference.backbone.conv1.weight, conv)
