# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What the hook does to a head, on small heads with hand-written values."""
import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmpretrain.registry import MODELS

from clusterfit_plugin.models.heads import (check_num_outputs,
                                            check_preprocessor_classes,
                                            num_outputs, reset_classifier,
                                            weight_loss_by_cluster_size)


def linear_head(num_classes=3, in_channels=4):
    return MODELS.build(
        dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=in_channels))


def test_num_outputs_and_its_check():
    assert num_outputs(linear_head(7)) == 7
    fc_only = torch.nn.Module()
    fc_only.fc = torch.nn.Linear(4, 5)
    assert num_outputs(fc_only) == 5
    assert num_outputs(torch.nn.Identity()) is None
    check_num_outputs(linear_head(3), 3)
    with pytest.raises(
            ValueError,
            match=r'model.head has 7 outputs but the '
            r'clustering has num_clusters=3.*--num-clusters K'):
        check_num_outputs(linear_head(7), 3)
    with pytest.raises(ValueError, match='cannot find the number of outputs'):
        check_num_outputs(torch.nn.Identity(), 3)


def test_preprocessor_classes_must_be_k():
    mixup = MODELS.build(
        dict(
            type='ClsDataPreprocessor',
            num_classes=1000,
            batch_augments=dict(augments=[dict(type='Mixup', alpha=0.2)])))
    with pytest.raises(
            ValueError,
            match=r'num_classes=1000 but the '
            r'clustering has num_clusters=3 \(its batch augments'):
        check_preprocessor_classes(mixup, 3)
    check_preprocessor_classes(
        MODELS.build(dict(type='ClsDataPreprocessor')),
        3)  # no num_classes: nothing to agree on
    check_preprocessor_classes(
        MODELS.build(dict(type='ClsDataPreprocessor', num_classes=3)), 3)
    check_preprocessor_classes(None, 3)


def test_loss_weights_by_cluster_size():
    """Labels [0, 0, 0, 1] with K=3: sizes 3, 1, 0; two clusters are not
    empty, so the weights are N / (2 * size) = 4/6, 4/2, and 4/2 for the
    empty cluster (its size taken as 1)."""
    head = linear_head(3)
    weight_loss_by_cluster_size(head, np.array([0, 0, 0, 1]), 3)
    assert head.loss_module.class_weight == pytest.approx([2 / 3, 2.0, 2.0])
    no_weights = torch.nn.Module()
    no_weights.loss_module = torch.nn.Identity()
    with pytest.raises(ValueError, match='takes class_weight'):
        weight_loss_by_cluster_size(no_weights, np.array([0, 1]), 2)


def sgd_with_momentum(head):
    """An SGD wrapper whose state holds a momentum buffer for the head."""
    wrapper = OptimWrapper(
        torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9))
    head.fc(torch.ones(1, 4)).sum().backward()
    wrapper.step()
    assert head.fc.weight in wrapper.optimizer.state
    return wrapper


def test_reset_classifier_is_seeded_and_drops_momentum():
    head = linear_head(3)
    wrapper = sgd_with_momentum(head)
    params = reset_classifier(head, seed=5, optim_wrapper=wrapper)
    assert params == [head.fc.weight, head.fc.bias]
    assert not wrapper.optimizer.state  # momentum of fc dropped
    expected = torch.randn(3, 4, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(head.fc.weight.detach(), expected * 0.01)
    assert torch.count_nonzero(head.fc.bias) == 0
    # Several optimizers (OptimWrapperDict): each drops the fc's state.
    other = linear_head(3)
    wrappers = OptimWrapperDict(
        a=sgd_with_momentum(head), b=sgd_with_momentum(other))
    reset_classifier(head, seed=5, optim_wrapper=wrappers)
    assert not wrappers['a'].optimizer.state
    assert other.fc.weight in wrappers['b'].optimizer.state
    with pytest.raises(ValueError, match='no nn.Linear fc'):
        reset_classifier(torch.nn.Identity(), seed=0)
