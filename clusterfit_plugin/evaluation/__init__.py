# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .frozen_features import (PROTOCOLS, evaluate_features, few_shot_indices,
                              knn_top1, linear_top1)
from .leaderboard import markdown_table

__all__ = [
    'PROTOCOLS', 'evaluate_features', 'few_shot_indices', 'knn_top1',
    'linear_top1', 'markdown_table'
]
