from .clusterfit_head import ClusterFitHead

__all__ = ['ClusterFitHead']
