from .cluster_balanced import ClusterBalancedSampler

__all__ = ['ClusterBalancedSampler']
