# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .clustering_round import ClusteringResult, ClusteringRound
from .hooks import ChannelsLastHook, ClusterFitHook
from .pipeline import ClusterFitPipeline

__all__ = [
    'ChannelsLastHook', 'ClusterFitHook', 'ClusterFitPipeline',
    'ClusteringResult', 'ClusteringRound'
]
