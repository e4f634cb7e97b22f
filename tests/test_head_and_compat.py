"""ClusterFitHead, and safe loading of mmengine checkpoints on torch 2.14."""
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from clusterfit_plugin.compat import _history_buffer_getattr


def test_head_topk_never_exceeds_k_and_trains():
    head = MODELS.build(dict(type='ClusterFitHead', num_clusters=3,
                             in_channels=8, topk=(1, 5), cal_acc=True))
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
        MODELS.build(dict(type='ClusterFitHead', num_clusters=1,
                          in_channels=8))


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    """What an mmengine Runner checkpoint holds loads with
    weights_only=True (torch's default) once the plugin is imported."""
    buf = HistoryBuffer()
    buf.update(1.5)
    import numpy as np
    ckpt = dict(message_hub=dict(log_scalars={'loss': buf}),
                meta=dict(seed=np.int64(3), arr=np.arange(3)))
    path = tmp_path / 'c.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded['message_hub']['log_scalars']['loss'].mean() == 1.5
    assert loaded['meta']['arr'].tolist() == [0, 1, 2]


class _Evil:
    """Pickles as getattr(HistoryBuffer, 'register_statistics'): an allowed
    class, an attribute outside the statistics methods."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'register_statistics'))


def test_restricted_getattr_refuses_other_attributes(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match='only'):
        _history_buffer_getattr(HistoryBuffer, '__init__')
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError,
                       match='register_statistics'):
        torch.load(path, weights_only=True)
