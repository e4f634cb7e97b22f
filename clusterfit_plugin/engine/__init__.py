# Copyright (c) clusterfit_plugin contributors. All rights reserved.
from .hooks import ClusterFitHook

__all__ = ['ClusterFitHook']
