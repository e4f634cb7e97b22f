# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What ClusterFit does to a classification head: check its number of
outputs, re-initialise its classifier, weight its loss by cluster size."""
from typing import List, Optional

import numpy as np
import torch
from mmengine.optim import OptimWrapperDict


def num_outputs(head) -> Optional[int]:
    """The number of classes a head predicts.

    Args:
        head: an mmpretrain head (``num_classes``, or an ``nn.Linear`` fc).

    Returns:
        int | None: the outputs, or None when they cannot be read.
    """
    outputs = getattr(head, 'num_classes', None)
    fc = getattr(head, 'fc', None)
    if outputs is None and isinstance(fc, torch.nn.Linear):
        outputs = fc.out_features
    return outputs


def check_num_outputs(head, num_clusters: int) -> None:
    """Check that a head predicts ``num_clusters`` classes.

    Args:
        head: the model's head.
        num_clusters (int): K of the clustering.

    Raises:
        ValueError: the outputs cannot be read, or differ from K (the
            message names both settings and ``--num-clusters``).
    """
    outputs = num_outputs(head)
    if outputs is None:
        raise ValueError(
            'cannot find the number of outputs of model.head '
            f"({type(head).__name__}); use head=dict(type='ClusterFitHead'"
            f', num_clusters={num_clusters}, ...).')
    if outputs != num_clusters:
        raise ValueError(
            f'model.head has {outputs} outputs but the clustering has '
            f'num_clusters={num_clusters}. Set the same K in both '
            f'(model.head.num_clusters={num_clusters}, or the '
            f"hook's num_clusters={outputs}), or use tools/train.py "
            '--num-clusters K.')


def check_preprocessor_classes(preprocessor, num_clusters: int) -> None:
    """Check that a data preprocessor one-hot encodes K classes.

    mmpretrain's ``ClsDataPreprocessor`` turns labels into one-hot scores of
    ``num_classes`` for batch augments (Mixup, CutMix): a recipe's 1000 left
    over fails at the first iteration, after the whole clustering.

    Args:
        preprocessor: the model's data preprocessor.
        num_clusters (int): K of the clustering.

    Raises:
        ValueError: ``num_classes`` is set and differs from K.
    """
    classes = getattr(preprocessor, 'num_classes', None)
    if classes is None or classes == num_clusters:
        return
    augments = getattr(preprocessor, 'batch_augments', None)
    raise ValueError(
        f'the data preprocessor has num_classes={classes} but the '
        f'clustering has num_clusters={num_clusters}' +
        (' (its batch augments, Mixup / CutMix, one-hot encode the labels '
         'with it)' if augments is not None else '') +
        f'. Set data_preprocessor.num_classes={num_clusters}, or use '
        'tools/train.py --num-clusters K.')


def check_checkpoint_outputs(checkpoint: dict, num_clusters: int) -> None:
    """Refuse a checkpoint whose head predicts another number of clusters
    (a run resumed with another ``--num-clusters``: the optimizer's state
    would not fit the head).

    Args:
        checkpoint (dict): a loaded Runner checkpoint.
        num_clusters (int): K of this run.
    """
    weight = (checkpoint.get('state_dict') or {}).get('head.fc.weight')
    if weight is not None and weight.shape[0] != num_clusters:
        raise ValueError(
            f'the checkpoint has a head of {weight.shape[0]} outputs but this '
            f'run has num_clusters={num_clusters}: a run resumed with another '
            'K. Resume with the K it was trained with, or start a new work '
            'dir (publish_model.py gives its backbone to a new run).')


def reset_classifier(head,
                     seed: int,
                     optim_wrapper=None) -> List[torch.nn.Parameter]:
    """Re-initialise the head's ``nn.Linear`` fc from ``seed`` (normal, std
    0.01, zero bias): the same weights on every rank. Its parameters' state
    in ``optim_wrapper`` (momentum) is dropped.

    Args:
        head: a head with an ``nn.Linear`` ``fc``.
        seed (int): seed of the draw.
        optim_wrapper (OptimWrapper | OptimWrapperDict, optional): the
            runner's optimizer wrapper(s).

    Returns:
        list: the re-initialised parameters.
    """
    fc = getattr(head, 'fc', None)
    if not isinstance(fc, torch.nn.Linear):
        raise ValueError(f'{type(head).__name__} has no nn.Linear fc to '
                         're-initialise.')
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=gen) * 0.01)
        fc.bias.zero_()
    params = list(fc.parameters())
    wrappers = (
        optim_wrapper.values() if isinstance(optim_wrapper, OptimWrapperDict)
        else [optim_wrapper] if optim_wrapper is not None else [])
    for wrapper in wrappers:
        for param in params:
            wrapper.optimizer.state.pop(param, None)
    return params


def weight_loss_by_cluster_size(head, labels: np.ndarray,
                                num_clusters: int) -> None:
    """Weight the head's cross-entropy by inverse cluster frequency:
    ``N / (K' * size)`` over the K' non-empty clusters.

    Args:
        head: a head whose ``loss_module`` takes ``class_weight``.
        labels (np.ndarray): (N,) cluster ids.
        num_clusters (int): K.
    """
    loss = getattr(head, 'loss_module', None)
    if not hasattr(loss, 'class_weight'):
        raise ValueError(
            'weighting the loss by cluster size needs a head whose '
            'loss_module takes class_weight (CrossEntropyLoss); '
            f'{type(loss).__name__} does not.')
    sizes = np.bincount(labels, minlength=num_clusters)
    nonempty = max(int((sizes > 0).sum()), 1)
    loss.class_weight = (len(labels) /
                         (nonempty * np.maximum(sizes, 1))).tolist()
