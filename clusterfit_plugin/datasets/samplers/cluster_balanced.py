# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ClusterBalancedSampler``: every non-empty cluster drawn equally often."""
import math
from typing import Iterator, Optional

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


@DATA_SAMPLERS.register_module()
class ClusterBalancedSampler(Sampler):
    """Draw samples uniformly over clusters, as DeepCluster's sampler, but
    with its own seeded generator and correct in distributed runs.

    Each epoch, ``num_samples`` indices are drawn so that every non-empty
    cluster contributes ``ceil(num_samples / K')`` of them (K' non-empty
    clusters; empty ones are skipped), without replacement where a cluster is
    large enough and with replacement where it is not; they are shuffled and
    cut to ``num_samples``. Every rank builds the same list from
    ``seed + epoch`` (no global RNG is touched) and takes every
    ``world_size``-th index, the list padded to a multiple of the world size.
    The labels are read from the :class:`ClusterFitDataset` at the start of
    each epoch, so re-clustering changes the balance.

    Args:
        dataset (ClusterFitDataset): the labelled dataset.
        num_samples (int, optional): indices per epoch over all ranks.
            Defaults to ``len(dataset)``.
        seed (int, optional): base seed; a seed shared by all ranks is drawn
            when None. Defaults to None.
    """

    def __init__(self,
                 dataset,
                 num_samples: Optional[int] = None,
                 seed: Optional[int] = None):
        if not hasattr(dataset, 'has_labels'):
            raise TypeError('ClusterBalancedSampler needs a '
                            'ClusterFitDataset (train_dataloader.dataset), '
                            f'got {type(dataset).__name__}.')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.total = int(num_samples or len(dataset))
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        self.num_per_rank = math.ceil(self.total / self.world_size)

    def epoch_indices(self) -> np.ndarray:
        """The whole epoch's indices (all ranks), before sharding.

        Returns:
            np.ndarray: ``num_samples`` dataset indices.
        """
        if not self.dataset.has_labels:
            raise RuntimeError('ClusterBalancedSampler: the dataset has no '
                               'labels yet; ClusterFitHook (or label_file) '
                               'sets them before the first epoch.')
        labels = self.dataset.labels
        rng = np.random.default_rng(self.seed + self.epoch)
        order = np.argsort(labels, kind='stable')
        sizes = np.bincount(labels)
        groups = np.split(order, np.cumsum(sizes)[:-1])
        groups = [g for g in groups if len(g)]
        per_cluster = math.ceil(self.total / len(groups))
        drawn = [
            rng.choice(g, size=per_cluster, replace=len(g) < per_cluster)
            for g in groups
        ]
        indices = np.concatenate(drawn)
        rng.shuffle(indices)
        return indices[:self.total]

    def __iter__(self) -> Iterator[int]:
        indices = self.epoch_indices()
        padded = self.num_per_rank * self.world_size
        indices = np.resize(indices, padded)
        return iter(indices[self.rank::self.world_size].tolist())

    def __len__(self) -> int:
        return self.num_per_rank

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (DistSamplerSeedHook calls this).

        Args:
            epoch (int): the epoch.
        """
        self.epoch = epoch
