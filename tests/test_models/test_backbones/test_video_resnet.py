# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""VideoResNetBackbone: frozen stages and the R(2+1)D architectures."""

import pytest
import torch
from mmpretrain.registry import MODELS


def test_video_backbone_freezing_and_archs():
    frozen = MODELS.build(
        dict(
            type='VideoResNetBackbone',
            arch='mc3_18',
            frozen_stages=1,
            norm_eval=True))
    frozen.train()
    for module in (frozen.stem, frozen.layer1):
        assert not module.training
        assert not any(p.requires_grad for p in module.parameters())
    assert frozen.layer2.training and all(p.requires_grad
                                          for p in frozen.layer2.parameters())
    bns = [
        m for m in frozen.layer4.modules()
        if isinstance(m, torch.nn.BatchNorm3d)
    ]
    assert bns and not any(m.training for m in bns)  # norm_eval
    deep = MODELS.build(dict(type='VideoResNetBackbone', arch='r2plus1d_34'))
    assert [len(getattr(deep, f'layer{i}')) for i in range(1, 5)] == \
        [3, 4, 6, 3]
    out = deep.eval()(torch.zeros(1, 3, 4, 16, 16))
    assert isinstance(out, tuple) and out[0].dim() == 5
    with pytest.raises(ValueError, match='r2plus1d_50'):
        MODELS.build(dict(type='VideoResNetBackbone', arch='r2plus1d_50'))
