# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .frozen_features import (PROTOCOLS, evaluate_features, evaluate_topk,
                              few_shot_indices, knn_probe, knn_top1,
                              linear_probe, linear_top1, select_c)
from .leaderboard import make_row, markdown_table
from .model_eval import EvalSettings, evaluate_model

__all__ = [
    'EvalSettings', 'PROTOCOLS', 'evaluate_features', 'evaluate_model',
    'evaluate_topk', 'few_shot_indices', 'knn_probe', 'knn_top1',
    'linear_probe', 'linear_top1', 'make_row', 'markdown_table', 'select_c'
]
