# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .frozen_features import (PROTOCOLS, evaluate_features, evaluate_topk,
                              few_shot_indices, knn_probe, knn_top1,
                              linear_probe, linear_top1, select_c)
from .leaderboard import make_row, markdown_table
from .model_eval import MULTI_LABEL_PROTOCOLS, EvalSettings, evaluate_model
from .voc07_svm import voc07_svm, voc_ap

__all__ = [
    'EvalSettings', 'MULTI_LABEL_PROTOCOLS', 'PROTOCOLS', 'evaluate_features',
    'evaluate_model', 'evaluate_topk', 'few_shot_indices', 'knn_probe',
    'knn_top1', 'linear_probe', 'linear_top1', 'make_row', 'markdown_table',
    'select_c', 'voc07_svm', 'voc_ap'
]
