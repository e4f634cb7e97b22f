from .heads import ClusterFitHead

__all__ = ['ClusterFitHead']
