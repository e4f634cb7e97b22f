# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""ClusterFitHead: top-k within K, training, K below two."""
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


def test_head_topk_never_exceeds_k_and_trains():
    head = MODELS.build(
        dict(
            type='ClusterFitHead',
            num_clusters=3,
            in_channels=8,
            topk=(1, 5),
            cal_acc=True))
    assert head.topk == (1, 3) and head.num_clusters == 3
    feats = (torch.randn(4, 8), )
    samples = [DataSample().set_gt_label(i % 3) for i in range(4)]
    losses = head.loss(feats, samples)
    assert set(losses) == {'loss', 'accuracy_top-1', 'accuracy_top-3'}
    losses['loss'].backward()
    assert head.fc.weight.grad is not None
    preds = head.predict(feats)
    assert preds[0].pred_score.shape == (3, )


def test_head_rejects_k_below_two():
    with pytest.raises(ValueError, match='num_clusters=1'):
        MODELS.build(
            dict(type='ClusterFitHead', num_clusters=1, in_channels=8))
