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


@pytest.mark.parametrize('arch', ['r3d_18', 'mc3_18', 'r2plus1d_18'])
def test_default_width_is_torchvisions_network(arch):
    """At the default width the backbone is torchvision's network without
    its pooling and classifier: the same parameter names and shapes, so
    torchvision's weights load strictly and give the same feature map as
    torchvision's own forward up to its pooling."""
    import torchvision.models.video as tv
    reference = getattr(tv, arch)().eval()
    backbone = MODELS.build(dict(type='VideoResNetBackbone', arch=arch))
    wanted = {
        k: v
        for k, v in reference.state_dict().items() if not k.startswith('fc.')
    }
    assert {k: v.shape for k, v in backbone.state_dict().items()} == \
        {k: v.shape for k, v in wanted.items()}
    backbone.load_state_dict(wanted, strict=True)
    backbone.eval()
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        ref = reference.stem(x)
        for i in range(1, 5):
            ref = getattr(reference, f'layer{i}')(ref)
        ours = backbone(x)[0]
        assert torch.equal(ours, ref)
        # and torchvision's logits from our map through its own head
        logits = reference.fc(reference.avgpool(ours).flatten(1))
        assert torch.allclose(logits, reference(x), atol=1e-6)


def test_base_channels_scales_every_stage():
    narrow = MODELS.build(
        dict(type='VideoResNetBackbone', arch='r2plus1d_18', base_channels=8))
    assert narrow.out_channels == 64
    convs = [m for m in narrow.stem if isinstance(m, torch.nn.Conv3d)]
    assert [c.out_channels for c in convs] == [45 * 8 // 64, 8]
    widths = [
        getattr(narrow, f'layer{i}')[-1].conv2[1].num_features
        for i in range(1, 5)
    ]
    assert widths == [8, 16, 32, 64]
    out = narrow.eval()(torch.zeros(2, 3, 8, 32, 32))[0]
    assert out.shape == (2, 64, 1, 2, 2)

    # A 64-wide R(2+1)D-18 has about 31M parameters; 8 wide, 1/64 of it.
    def size(model):
        return sum(p.numel() for p in model.parameters())

    wide = MODELS.build(dict(type='VideoResNetBackbone'))
    assert 55 < size(wide) / size(narrow) < 70
    with pytest.raises(ValueError, match='base_channels'):
        MODELS.build(dict(type='VideoResNetBackbone', base_channels=0))
