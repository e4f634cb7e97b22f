from .frozen_features import (evaluate_features, few_shot_indices, knn_top1,
                              linear_top1)

__all__ = ['evaluate_features', 'few_shot_indices', 'knn_top1', 'linear_top1']
