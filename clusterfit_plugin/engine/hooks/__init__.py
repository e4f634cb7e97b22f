from .clusterfit_hook import ClusterFitHook

__all__ = ['ClusterFitHook']
