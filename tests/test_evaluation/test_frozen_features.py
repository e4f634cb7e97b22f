# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The frozen-feature evaluation: known features give known accuracy; few-shot
indices."""
import numpy as np
import pytest

from clusterfit_plugin.evaluation import evaluate_features, few_shot_indices


def separable(n_per_class=60, classes=4, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 10
    y = np.repeat(np.arange(classes), n_per_class)
    x = centers[y] + rng.normal(size=(len(y), dim))
    return x.astype(np.float32), y


def test_separable_features_give_full_accuracy():
    x, y = separable()
    rng = np.random.default_rng(1)
    test_x = x + rng.normal(scale=0.5, size=x.shape).astype(np.float32)
    result = evaluate_features(x, y, test_x, y, shots=5, k=5)
    assert result == {'linear': 100.0, '5shot': 100.0, 'knn5': 100.0}


def test_random_labels_give_chance():
    x, _ = separable(n_per_class=100)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, size=len(x))
    ty = rng.integers(0, 4, size=len(x))
    result = evaluate_features(x, y, x, ty, protocols=('knn', 'linear'))
    assert result['knn20'] < 40 and result['linear'] < 40


def test_few_shot_indices():
    y = np.repeat(np.arange(3), 7)
    idx = few_shot_indices(y, 5, seed=0)
    assert np.bincount(y[idx]).tolist() == [5, 5, 5]
    np.testing.assert_array_equal(idx, few_shot_indices(y, 5, seed=0))
    with pytest.raises(ValueError, match='fewer than shots=8'):
        few_shot_indices(y, 8, seed=0)
    with pytest.raises(ValueError, match='unknown protocols'):
        evaluate_features(*separable(), *separable(), protocols=('svm', ))
