from .clusterfit_dataset import ClusterFitDataset, load_label_file

__all__ = ['ClusterFitDataset', 'load_label_file']
