# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The torch linear probe against scikit-learn's LogisticRegression: the
same weights (scikit-learn run to a tight tolerance), the same top-1 and
top-5 as the scikit-learn probe, two classes and more."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from clusterfit_plugin.evaluation import evaluate_topk, select_c
from clusterfit_plugin.evaluation.frozen_features import linear_probe
from clusterfit_plugin.evaluation.torch_linear import (fit_logistic,
                                                       resolve_classifier)


def data(num_classes: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_classes, 20))
    y = rng.integers(0, num_classes, n)
    return centers[y] + 1.5 * rng.normal(size=(n, 20)), y


@pytest.mark.parametrize('num_classes', [2, 3, 8])
@pytest.mark.parametrize('c', [0.01, 1.0])
def test_same_weights_and_scores_as_scikit_learn(num_classes, c):
    x, y = data(num_classes, 300, 0)
    test_x, test_y = data(num_classes, 200, 1)
    scaled = StandardScaler().fit(x).transform(x)
    reference = LogisticRegression(
        C=c, tol=1e-10, max_iter=10000).fit(scaled, y)
    weights, bias = fit_logistic(
        torch.from_numpy(scaled), torch.from_numpy(y), num_classes, c)
    np.testing.assert_allclose(
        weights.numpy(), reference.coef_.T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        bias.numpy(), reference.intercept_, rtol=1e-4, atol=1e-5)
    # Top-1 and top-5 of the torch probe are those of the exact optimum;
    # scikit-learn's default tol=1e-4 stops a little before it, which can
    # move a sample or two.
    scaler = StandardScaler().fit(x)
    proba = reference.predict_proba(scaler.transform(test_x))
    ranked = np.argsort(-proba, 1, kind='stable')
    exact = (
        100 * (reference.classes_[ranked[:, 0]] == test_y).mean(), 100 *
        (reference.classes_[ranked[:, :5]] == test_y[:, None]).any(1).mean())
    ours = linear_probe(x, y, test_x, test_y, c=c, classifier='torch')
    assert ours == pytest.approx(exact)
    default = linear_probe(x, y, test_x, test_y, c=c, classifier='sklearn')
    assert abs(default[0] - ours[0]) <= 100 * 2 / len(test_y)


def test_every_protocol_and_the_c_choice_agree():
    x, y = data(8, 300, 2)
    test_x, test_y = data(8, 200, 3)
    grid = [0.001, 0.1, 10.0]
    assert select_c(x, y, grid, classifier='torch') == select_c(x, y, grid)
    ours = evaluate_topk(
        x, y, test_x, test_y, ('linear', 'fewshot'), classifier='torch')
    reference = evaluate_topk(x, y, test_x, test_y, ('linear', 'fewshot'))
    for name in ('linear', '10shot'):
        assert abs(ours[0][name] - reference[0][name]) <= 1.0


def test_classifier_setting():
    assert resolve_classifier('sklearn') == 'sklearn'
    # No choice by machine: the two can differ (scikit-learn's tolerance).
    with pytest.raises(ValueError, match="classifier='auto'"):
        resolve_classifier('auto')
    with pytest.raises(ValueError, match="classifier='sgd'"):
        resolve_classifier('sgd')
