# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""VISSL's ClusterFit label files, matched to a dataset by image path.

VISSL trains on cluster labels through its ``disk_filelist`` data source: an
image list ``{split}_images.npy`` (a string array of paths) and labels
``{split}_labels.npy`` (an int array, one per image, in the same order), as
``ClusterAssignmentLoader.save_cluster_assignment_as_dataset`` writes them.
:func:`import_vissl_labels` turns such a pair into a label file in a
dataset's order (for ``ClusterFitDataset(label_file=...)``);
:func:`export_vissl_labels` writes a pair from labels in dataset order.
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..fileio import atomic_save_npy, load_npy
from .clusterfit_dataset import check_label_range
from .sample_keys import sample_path


def _norm(path: str) -> str:
    return osp.normpath(osp.abspath(path))


def dataset_paths(dataset) -> list:
    """Every sample's file, normalised to an absolute path.

    Args:
        dataset: an mmengine dataset (``get_data_info``).

    Returns:
        list: the paths, in dataset order.
    """
    paths = []
    for i in range(len(dataset)):
        path = sample_path(dataset.get_data_info(i))
        if path is None:
            raise ValueError(f'sample {i} of the dataset has no file path; '
                             'VISSL label files are matched by image path.')
        paths.append(_norm(path))
    return paths


def _decode(images: np.ndarray, images_file: str) -> List[str]:
    """The image paths as str (VISSL writes them as unicode or bytes)."""
    if images.dtype.kind == 'U':
        return images.tolist()
    paths = []
    for i, path in enumerate(images.tolist()):
        try:
            paths.append(path.decode('utf-8'))
        except UnicodeDecodeError as e:
            raise ValueError(
                f'{images_file}: image path {i} ({path!r}) is not UTF-8 text '
                f'({e}). Save the list as unicode strings, e.g. '
                'np.save(path, np.array(paths, dtype=str)).') from e
    return paths


def load_vissl_pair(
        labels_file: str,
        images_file: str,
        replace_prefix: Optional[Tuple[str, str]] = None) -> Dict[str, int]:
    """Read a VISSL labels file and its image list.

    Args:
        labels_file (str): ``{split}_labels.npy``.
        images_file (str): ``{split}_images.npy``.
        replace_prefix (tuple, optional): ``(old, new)``: image paths that
            start with ``old`` are read as starting with ``new`` (the files
            were made on another machine).

    Returns:
        dict: normalised image path -> label.
    """
    labels = load_npy(labels_file, f'{labels_file} (the VISSL labels)')
    images = load_npy(images_file, f'{images_file} (the VISSL image list)')
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'{labels_file}: expected a 1-D integer array of '
                         f'labels, got {labels.dtype} {labels.shape}.')
    if images.ndim != 1 or images.dtype.kind not in 'US':
        raise ValueError(f'{images_file}: expected a 1-D string array of '
                         f'image paths, got {images.dtype} {images.shape}.')
    if len(labels) != len(images):
        raise ValueError(f'{labels_file} has {len(labels)} labels but '
                         f'{images_file} lists {len(images)} images.')
    if len(labels) and labels.min() < 0:
        raise ValueError(f'{labels_file}: label {int(labels.min())} is '
                         'negative.')
    mapping = {}
    for i, path in enumerate(_decode(images, images_file)):
        if replace_prefix is not None and path.startswith(replace_prefix[0]):
            path = replace_prefix[1] + path[len(replace_prefix[0]):]
        path = _norm(path)
        if path in mapping:
            raise ValueError(f'{images_file} lists {path!r} twice (the '
                             f'second time at entry {i}).')
        mapping[path] = int(labels[i])
    return mapping


def import_vissl_labels(dataset,
                        labels_file: str,
                        images_file: str,
                        replace_prefix: Optional[Tuple[str, str]] = None,
                        allow_extra: bool = False) -> np.ndarray:
    """Labels in ``dataset``'s order from a VISSL labels file.

    Args:
        dataset: an mmengine dataset (the one a ClusterFitDataset wraps).
        labels_file (str): ``{split}_labels.npy``.
        images_file (str): ``{split}_images.npy``.
        replace_prefix (tuple, optional): see :func:`load_vissl_pair`.
        allow_extra (bool): accept VISSL images that are not in the
            dataset (a VISSL list of a larger set). Defaults to False.

    Returns:
        np.ndarray: (N,) int64 labels in dataset order.
    """
    mapping = load_vissl_pair(labels_file, images_file, replace_prefix)
    paths = dataset_paths(dataset)
    missing = [p for p in paths if p not in mapping]
    if missing:
        raise ValueError(
            f'{len(missing)} of the dataset\'s {len(paths)} images are not in '
            f'{images_file}, e.g. {missing[:3]}; its paths look like '
            f'{list(mapping)[:2]}. If the files were made on another machine, '
            'map the paths with --replace-prefix OLD NEW.')
    extra = len(mapping) - len(paths)
    if extra and not allow_extra:
        known = set(paths)
        example = [p for p in mapping if p not in known][:3]
        raise ValueError(
            f'{images_file} lists {extra} images that are not in the '
            f'dataset, e.g. {example}. Pass --allow-extra if it covers a '
            'larger set on purpose.')
    return np.array([mapping[p] for p in paths], dtype=np.int64)


def export_vissl_labels(dataset,
                        labels: np.ndarray,
                        out_dir: str,
                        split: str = 'train') -> Tuple[str, str]:
    """Write labels in dataset order as VISSL's ``disk_filelist`` pair.

    Args:
        dataset: the dataset the labels are of.
        labels (np.ndarray): (N,) int labels in dataset order.
        out_dir (str): where the files go.
        split (str): names the files. Defaults to ``'train'``.

    Returns:
        tuple: the image list and labels files written.
    """
    paths = dataset_paths(dataset)
    labels = np.asarray(labels)
    if labels.shape != (len(paths), ):
        raise ValueError(f'{len(labels)} labels for a dataset of '
                         f'{len(paths)} samples.')
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f'the labels are {labels.dtype}; cluster ids are '
                        'integers (a float label is never rounded here).')
    check_label_range(labels, None, 'the labels to export')
    images_file = osp.join(out_dir, f'{split}_images.npy')
    labels_file = osp.join(out_dir, f'{split}_labels.npy')
    atomic_save_npy(images_file, np.array(paths, dtype=str))
    atomic_save_npy(labels_file, labels.astype(np.int64))
    return images_file, labels_file
