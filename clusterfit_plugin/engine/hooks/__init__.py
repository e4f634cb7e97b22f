# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .channels_last_hook import ChannelsLastHook
from .clusterfit_hook import ClusterFitHook

__all__ = ['ChannelsLastHook', 'ClusterFitHook']
