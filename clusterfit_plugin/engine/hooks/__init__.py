# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .clusterfit_hook import ClusterFitHook

__all__ = ['ClusterFitHook']
