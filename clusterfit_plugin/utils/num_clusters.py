# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Set K in every place of a ClusterFit config that must agree on it."""
from mmengine.config import Config


def _loaders(cfg: Config):
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field)
        if loader is not None and loader.get('dataset') is not None:
            yield loader.dataset


def set_num_clusters(cfg: Config, num_clusters: int) -> None:
    """Set the number of clusters K everywhere ``cfg`` names it.

    That is every ``ClusterFitHook`` and ``ClusterFitHead``, every
    ``ClusterFitDataset`` that states its ``num_clusters``, the
    ``num_classes`` of the data preprocessor (used by batch augments) and a
    top-level ``num_clusters`` variable. ``--cfg-options`` would have to name
    each of them; a K that differs between them is an error before training.

    Args:
        cfg (Config): a ClusterFit config, changed in place.
        num_clusters (int): K.
    """
    if num_clusters < 2:
        raise ValueError(f'--num-clusters {num_clusters}: k-means needs at '
                         'least 2 clusters.')
    found = False
    for hook in cfg.get('custom_hooks') or []:
        if hook.get('type') == 'ClusterFitHook':
            hook.num_clusters = num_clusters
            found = True
    head = (cfg.get('model') or {}).get('head')
    if isinstance(head, dict) and head.get('type') == 'ClusterFitHead':
        head.num_clusters = num_clusters
        found = True
    if not found:
        raise ValueError(
            f'{cfg.filename}: --num-clusters needs a ClusterFitHook or a '
            'ClusterFitHead in the config; this config has neither.')
    for dataset in _loaders(cfg):
        if dataset.get('type') == 'ClusterFitDataset' and dataset.get(
                'num_clusters') is not None:
            dataset.num_clusters = num_clusters
    for owner in (cfg, cfg.get('model')):
        preprocessor = owner.get('data_preprocessor')
        if isinstance(preprocessor, dict) and 'num_classes' in preprocessor:
            preprocessor.num_classes = num_clusters
    if 'num_clusters' in cfg:
        cfg.num_clusters = num_clusters
