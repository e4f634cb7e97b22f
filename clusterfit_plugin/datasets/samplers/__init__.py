# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .cluster_balanced import ClusterBalancedSampler

__all__ = ['ClusterBalancedSampler']
