# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Cluster agreement scores against scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from clusterfit_plugin.visualization import agreement


def test_agreement_scores_match_sklearn():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 5, 300)
    clusters = (classes * 3 + rng.integers(0, 3, 300)) % 7
    scores = agreement(clusters, classes)
    assert scores['nmi'] == pytest.approx(
        normalized_mutual_info_score(classes, clusters))
    assert scores['ari'] == pytest.approx(
        adjusted_rand_score(classes, clusters))
    # Purity by hand: cluster 0 holds classes 4, 4, 5 (majority 2 of 3),
    # cluster 1 holds 6, 7 (majority 1 of 2): (2 + 1) / 5.
    assert agreement(np.array([0, 0, 0, 1, 1]),
                     np.array([4, 4, 5, 6,
                               7]))['purity'] == pytest.approx(3 / 5)
    # Unknown classes (-1) are left out.
    assert agreement(np.array([0, 1, 1]), np.array([-1, 2,
                                                    2]))['num_labelled'] == 2
