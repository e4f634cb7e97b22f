# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""to_channels_last: 4-D tensors converted in place, others untouched."""
import pytest
import torch

from clusterfit_plugin.utils import to_channels_last


def test_converts_4d_tensors_only_and_keeps_the_parameters():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
        torch.nn.Conv3d(4, 4, 3))
    with pytest.raises(RuntimeError, match='rank 4'):
        # What torch's own conversion does with a 5-D weight.
        torch.nn.Sequential(torch.nn.Conv3d(
            4, 4, 3)).to(memory_format=torch.channels_last)
    params = list(model.parameters())
    before = [p.detach().clone() for p in params]
    assert to_channels_last(model) == 1
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert model[2].weight.is_contiguous()  # 5-D: as it was
    assert all(a is b for a, b in zip(model.parameters(), params))
    for p, old in zip(params, before):
        torch.testing.assert_close(p.detach(), old, rtol=0, atol=0)
    assert to_channels_last(model) == 0  # already converted
