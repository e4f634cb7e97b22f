# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .classifier_ops import (check_checkpoint_outputs, check_num_outputs,
                             check_preprocessor_classes, num_outputs,
                             reset_classifier, weight_loss_by_cluster_size)
from .clusterfit_head import ClusterFitHead

__all__ = [
    'ClusterFitHead', 'check_checkpoint_outputs', 'check_num_outputs',
    'check_preprocessor_classes', 'num_outputs', 'reset_classifier',
    'weight_loss_by_cluster_size'
]
