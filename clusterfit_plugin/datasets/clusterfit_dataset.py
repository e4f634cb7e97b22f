# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ClusterFitDataset``: any mmengine dataset, labelled by cluster ids."""
import copy
import os.path as osp
from typing import Optional, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, Compose
from mmpretrain.registry import DATASETS

from ..fileio import load_npy
from ..settings import as_int, as_path


def load_label_file(path: str,
                    num_samples: int,
                    num_clusters: Optional[int] = None) -> np.ndarray:
    """Read and check a ClusterFit labels file.

    Args:
        path (str): a ``.npy`` file with one int label per sample.
        num_samples (int): the dataset length it must match.
        num_clusters (int, optional): labels must lie in ``[0, K)``.

    Returns:
        np.ndarray: (N,) int64 labels.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'label_file={path!r} does not exist. Give the labels.npy that '
            'ClusterFitHook wrote ({work_dir}/clusterfit/labels.npy) or drop '
            'label_file and add ClusterFitHook to custom_hooks.')
    labels = load_npy(path, f'label_file={path!r}')
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f'label_file={path!r} holds an array of shape {labels.shape} '
            f'and dtype {labels.dtype}; expected a 1-D integer array with '
            'one cluster id per sample.')
    if labels.shape[0] != num_samples:
        raise ValueError(
            f'label_file={path!r} has {labels.shape[0]} labels but the '
            f'wrapped dataset has {num_samples} samples. The file belongs '
            'to another dataset (or annotation list); regenerate it with '
            'ClusterFitHook on this dataset.')
    check_label_range(labels, num_clusters, f'label_file={path!r}')
    return labels.astype(np.int64)


def check_label_range(labels: np.ndarray, num_clusters: Optional[int],
                      what: str) -> None:
    """Raise when labels fall outside ``[0, num_clusters)``.

    Args:
        labels (np.ndarray): the labels.
        num_clusters (int, optional): K; only negativity is checked if None.
        what (str): where the labels came from, for the message.
    """
    if labels.size == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or (num_clusters is not None and high >= num_clusters):
        raise ValueError(
            f'{what}: cluster ids range over [{low}, {high}] but must lie in '
            f'[0, {num_clusters if num_clusters is not None else "K"}). '
            'Set num_clusters to the K the labels were made with.')


@DATASETS.register_module()
class ClusterFitDataset:
    """Wrap a dataset and label each sample with its cluster id.

    The labels come from :class:`ClusterFitHook` (``set_labels``) or from a
    labels file. They are kept in a shared-memory tensor that is updated in
    place, so DataLoader workers, persistent ones included, see new labels.
    The wrapped dataset's own labels are replaced; its samples, pipeline
    and order are kept.

    Args:
        dataset (dict | BaseDataset): the wrapped dataset or its config.
            Any mmengine ``BaseDataset`` (image or video).
        label_file (str, optional): a ``labels.npy`` to use instead of the
            hook's labels. Defaults to None.
        num_clusters (int, optional): K. Taken from the hook or the labels
            file when not given. Defaults to None.
        max_refetch (int): in training mode, how many other samples to try
            when the pipeline returns None. Defaults to 1000.
        **kwargs: refused: they belong to the wrapped dataset (an entry
            merged into a recipe's dataset without ``_delete_=True``).
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 label_file: Optional[str] = None,
                 num_clusters: Optional[int] = None,
                 max_refetch: int = 1000,
                 **kwargs):
        if kwargs:
            raise ValueError(
                f'ClusterFitDataset got {sorted(kwargs)}, which belong to the '
                'dataset it wraps: its entry was probably merged into the '
                "recipe's dataset. Write train_dataloader=dict(dataset=dict("
                "_delete_=True, type='ClusterFitDataset', dataset=dict(...))),"
                ' with those keys inside dataset=.')
        if num_clusters is not None:
            num_clusters = as_int(num_clusters, 'ClusterFitDataset '
                                  'num_clusters', 2)
        max_refetch = as_int(max_refetch, 'ClusterFitDataset max_refetch', 0)
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        for attr in ('get_data_info', 'pipeline'):
            if not hasattr(dataset, attr):
                raise TypeError(
                    f'ClusterFitDataset wraps mmengine datasets (with '
                    f'get_data_info and pipeline); {type(dataset).__name__} '
                    f'has no {attr!r}.')
        self.dataset = dataset
        self.max_refetch = max_refetch
        self.num_clusters = num_clusters
        self.label_file = as_path(
            label_file, 'ClusterFitDataset label_file', optional=True)
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        self._labels = torch.full((len(dataset), ), -1,
                                  dtype=torch.int64).share_memory_()
        self._has_labels = torch.zeros(1, dtype=torch.bool).share_memory_()
        if label_file is not None:
            labels = load_label_file(label_file, len(dataset), num_clusters)
            self.set_labels(labels, num_clusters)

    @property
    def test_mode(self) -> bool:
        """bool: the wrapped dataset's test mode."""
        return getattr(self.dataset, 'test_mode', False)

    @property
    def pipeline(self) -> Compose:
        """Compose: the wrapped dataset's pipeline."""
        return self.dataset.pipeline

    @property
    def metainfo(self) -> dict:
        """dict: the wrapped dataset's meta, with K cluster classes."""
        meta = copy.deepcopy(getattr(self.dataset, 'metainfo', {}))
        if self.num_clusters is not None:
            meta['classes'] = tuple(f'cluster_{i}'
                                    for i in range(self.num_clusters))
        return meta

    @property
    def has_labels(self) -> bool:
        """bool: whether labels have been set."""
        return bool(self._has_labels[0])

    @property
    def labels(self) -> np.ndarray:
        """np.ndarray: a copy of the current (N,) int64 labels."""
        return self._labels.numpy().copy()

    def set_labels(self,
                   labels: np.ndarray,
                   num_clusters: Optional[int] = None) -> None:
        """Replace the labels in place (workers see the change).

        Args:
            labels (np.ndarray): (N,) integer labels in dataset order.
            num_clusters (int, optional): K; kept as is when None.
        """
        labels = np.asarray(labels)
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(
                f'set_labels got {labels.dtype} labels; cluster ids are '
                'integers (a float label is never rounded here).')
        if labels.shape != (len(self), ):
            raise ValueError(
                f'set_labels got {labels.shape[0] if labels.ndim else 0} '
                f'labels of shape {labels.shape} for a dataset of '
                f'{len(self)} samples.')
        if num_clusters is not None:
            self.num_clusters = int(num_clusters)
        check_label_range(labels, self.num_clusters, 'ClusterFitDataset')
        self._labels.copy_(torch.from_numpy(labels.astype(np.int64)))
        self._has_labels[0] = True

    def get_data_info(self, idx: int) -> dict:
        """The wrapped sample's info with its cluster id as ``gt_label``.

        Args:
            idx (int): sample index.

        Returns:
            dict: the data info.
        """
        if not self.has_labels:
            raise RuntimeError(
                'ClusterFitDataset has no labels yet: add ClusterFitHook to '
                'custom_hooks (it labels the data before training) or give '
                'label_file=.')
        info = self.dataset.get_data_info(idx)
        info['gt_label'] = int(self._labels[idx])
        return info

    def prepare_data(self, idx: int):
        """Run the wrapped pipeline on the relabelled sample.

        Args:
            idx (int): sample index.

        Returns:
            dict | None: the pipeline's output.
        """
        return self.dataset.pipeline(self.get_data_info(idx))

    def __getitem__(self, idx: int) -> dict:
        data = self.prepare_data(idx)
        if data is not None:
            return data
        if self.test_mode:
            raise RuntimeError(f'the pipeline returned None for sample {idx} '
                               'in test mode.')
        rng = np.random.default_rng(idx)
        for _ in range(self.max_refetch):
            data = self.prepare_data(int(rng.integers(len(self))))
            if data is not None:
                return data
        raise RuntimeError(f'the pipeline returned None for sample {idx} '
                           f'and {self.max_refetch} others; check the data.')

    def __len__(self) -> int:
        return len(self.dataset)
