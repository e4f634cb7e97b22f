# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .clustering_round import ClusteringResult, ClusteringRound
from .hooks import ClusterFitHook

__all__ = ['ClusterFitHook', 'ClusteringResult', 'ClusteringRound']
