from .hooks import ClusterFitHook

__all__ = ['ClusterFitHook']
