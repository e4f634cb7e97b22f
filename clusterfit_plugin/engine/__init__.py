# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .clustering_round import ClusteringResult, ClusteringRound
from .hooks import ChannelsLastHook, ClusterFitHook

__all__ = [
    'ChannelsLastHook', 'ClusterFitHook', 'ClusteringResult', 'ClusteringRound'
]
