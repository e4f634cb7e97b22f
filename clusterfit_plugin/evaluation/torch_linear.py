# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The linear probe in torch, on the GPU when there is one.

The model and the objective are scikit-learn's ``LogisticRegression(C)``
on ``StandardScaler`` features, which :func:`.frozen_features.linear_probe`
fits on the CPU: features standardised with the training split's mean and
population standard deviation (a constant feature keeps scale 1);
multinomial cross-entropy summed over the samples times C plus half the
squared norm of the weights (the intercept is not penalised), or, with two
classes, one logistic output as scikit-learn fits it. L-BFGS (strong Wolfe
line search) minimises it full batch, so ImageNet-1k's 1.28 M x 2048
features fit in one GPU's memory in float32.
"""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

CLASSIFIERS = ('sklearn', 'torch')


def resolve_classifier(classifier: str) -> str:
    """Check the linear probe's implementation. There is no automatic
    choice: scikit-learn's default tolerance stops short of the optimum
    this module reaches (by a point of top-1 in docs/benchmarks.md), so the
    same evaluation must not change its numbers with the machine.

    Args:
        classifier (str): one of :data:`CLASSIFIERS`.

    Returns:
        str: the classifier.
    """
    if classifier not in CLASSIFIERS:
        raise ValueError(f'classifier={classifier!r}: use one of '
                         f'{CLASSIFIERS}.')
    return classifier


def fit_logistic(x: torch.Tensor,
                 y: torch.Tensor,
                 num_classes: int,
                 c: float,
                 max_iter: int = 1000) -> Tuple[torch.Tensor, torch.Tensor]:
    """Weights and intercepts minimising scikit-learn's objective.

    Args:
        x (Tensor): (n, D) standardised features.
        y (Tensor): (n,) class indices in ``[0, num_classes)``.
        num_classes (int): classes (2: one logistic output).
        c (float): inverse regularisation strength.
        max_iter (int): L-BFGS iterations at most. Defaults to 1000.

    Returns:
        tuple: (D, k) weights and (k,) intercepts, k = 1 for two classes.
    """
    outputs = 1 if num_classes == 2 else num_classes
    params = torch.zeros(
        x.shape[1] + 1,
        outputs,
        dtype=x.dtype,
        device=x.device,
        requires_grad=True)
    optimizer = torch.optim.LBFGS([params],
                                  lr=1,
                                  max_iter=max_iter,
                                  history_size=20,
                                  tolerance_grad=1e-9,
                                  tolerance_change=1e-12,
                                  line_search_fn='strong_wolfe')

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        weights, bias = params[:-1], params[-1]
        logits = x @ weights + bias
        if outputs == 1:
            loss = F.binary_cross_entropy_with_logits(
                logits[:, 0], y.to(x.dtype), reduction='sum')
        else:
            loss = F.cross_entropy(logits, y, reduction='sum')
        objective = c * loss + 0.5 * (weights * weights).sum()
        objective.backward()
        return objective

    optimizer.step(closure)
    return params[:-1].detach(), params[-1].detach()


def torch_logistic_scores(
        train_x: np.ndarray,
        train_y: np.ndarray,
        test_x: np.ndarray,
        c: float = 1.0,
        max_iter: int = 1000,
        device: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The classes and the test samples' class probabilities of the
    logistic regression fitted in torch.

    Args:
        train_x (np.ndarray): (n, D) training features.
        train_y (np.ndarray): (n,) training labels.
        test_x (np.ndarray): (m, D) test features.
        c (float): inverse regularisation strength. Defaults to 1.0.
        max_iter (int): L-BFGS iterations at most. Defaults to 1000.
        device (str, optional): where to fit; None: CUDA when present.

    Returns:
        tuple: (C,) classes and (m, C) probabilities.
    """
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    # float64 on the CPU (scikit-learn's precision), float32 on a GPU.
    dtype = torch.float64 if device == 'cpu' else torch.float32
    classes, train_idx = np.unique(train_y, return_inverse=True)
    train = torch.as_tensor(train_x, dtype=dtype, device=device)
    mean = train.mean(0)
    scale = train.std(0, unbiased=False)
    scale[scale == 0] = 1
    train = (train - mean) / scale
    weights, bias = fit_logistic(train,
                                 torch.as_tensor(train_idx, device=device),
                                 len(classes), c, max_iter)
    del train
    logits = ((torch.as_tensor(test_x, dtype=dtype, device=device) - mean) /
              scale) @ weights + bias
    if len(classes) == 2:
        logits = torch.cat([torch.zeros_like(logits), logits], 1)
    return classes, logits.softmax(1).cpu().numpy()
