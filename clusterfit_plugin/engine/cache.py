# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The clustering cache: its files, fingerprints and the manifest.

A cache directory holds ``labels.npy`` (int64, one per sample, dataset order),
``centroids.npy`` and ``manifest.json`` (the source's clustering), the
``labels_epoch{E}.npy`` of re-clustering rounds, the disk feature store's
shards under ``features/`` and the diagnostics under ``diagnostics/``. Every
file is written to a temporary name in the same directory and renamed into
place, and the manifest is written last: a cache is valid only when its
manifest exists and its fingerprint matches, so an interrupted write is never
mistaken for a result.
"""
import json
import logging
import os
import os.path as osp
import platform
import re
import time
from typing import Dict, Optional, Tuple

import mmengine
import mmpretrain
import numpy as np
import torch
from mmengine.logging import print_log

from ..clustering import FeatureStore
from ..clustering import kmeans as kmeans_module
from ..fileio import atomic_save_json, atomic_save_npy, sha256_of
from ..version import __version__

LABELS_FILE = 'labels.npy'
CENTROIDS_FILE = 'centroids.npy'
MANIFEST_FILE = 'manifest.json'
ROUND_PATTERN = re.compile(r'labels_epoch\d+\.npy')
# The fingerprint parts that determine the extracted features.
FEATURE_PARTS = ('samples', 'source_weights', 'source_model', 'stage',
                 'extract_pipeline', 'feature_dtype')


def combine_fingerprint(parts: Dict[str, str]) -> str:
    """One fingerprint from named component digests.

    Args:
        parts (dict): component name -> digest.

    Returns:
        str: hex digest over all components.
    """
    return sha256_of(sorted(parts.items()))


def feature_key(parts: Dict[str, str]) -> str:
    """The fingerprint of the extracted features alone (it names the disk
    store's shards, so that an extraction resumes only its own rows).

    Args:
        parts (dict): all fingerprint parts.

    Returns:
        str: hex digest over :data:`FEATURE_PARTS`.
    """
    return combine_fingerprint({k: parts[k] for k in FEATURE_PARTS})


def package_versions() -> Dict[str, str]:
    """Versions of the packages a clustering depends on (for the manifest).

    Returns:
        dict: package name -> version.
    """
    versions = dict(
        clusterfit_plugin=__version__,
        python=platform.python_version(),
        torch=torch.__version__,
        mmengine=mmengine.__version__,
        mmpretrain=mmpretrain.__version__,
        numpy=np.__version__)
    if kmeans_module.faiss is not None:
        versions['faiss'] = kmeans_module.faiss.__version__
    return versions


def round_file(epoch: int) -> str:
    """File name of the labels of the re-clustering round at ``epoch``.

    Args:
        epoch (int): the epoch the round starts.

    Returns:
        str: ``labels_epoch{epoch}.npy``.
    """
    return f'labels_epoch{epoch}.npy'


class ClusterCache:
    """A directory of clustering results keyed by a fingerprint.

    Args:
        directory (str): where the files live.
    """

    def __init__(self, directory: str):
        self.directory = directory

    def path(self, name: str) -> str:
        """Path of a file in the cache.

        Args:
            name (str): file name.

        Returns:
            str: the path.
        """
        return osp.join(self.directory, name)

    def read_manifest(self) -> Optional[dict]:
        """The manifest, or None when absent or unreadable.

        Returns:
            dict | None: the manifest.
        """
        try:
            with open(self.path(MANIFEST_FILE), encoding='utf-8') as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def stale_parts(self, parts: Dict[str, str]) -> Optional[list]:
        """Fingerprint components that differ from the cached manifest's.

        Args:
            parts (dict): the current component digests.

        Returns:
            list | None: names of differing components (empty when the cache
            matches), or None when there is no cache.
        """
        manifest = self.read_manifest()
        if manifest is None:
            return None
        cached = manifest.get('fingerprint_parts', {})
        return sorted(
            k for k in set(parts) | set(cached)
            if parts.get(k) != cached.get(k))

    def load(self, fingerprint: str,
             num_samples: int) -> Optional[Tuple[np.ndarray, dict]]:
        """Labels and manifest of a matching cache.

        Args:
            fingerprint (str): the expected fingerprint.
            num_samples (int): the expected number of labels.

        Returns:
            tuple | None: ``(labels, manifest)`` on a hit, else None.
        """
        manifest = self.read_manifest()
        if manifest is None or manifest.get('fingerprint') != fingerprint:
            return None
        try:
            labels = np.load(self.path(LABELS_FILE), allow_pickle=False)
        except (OSError, ValueError):
            return None
        if labels.shape != (num_samples, ) or labels.dtype != np.int64:
            return None
        return labels, manifest

    def lookup(self, parts: Dict[str, str],
               num_samples: int) -> Optional[np.ndarray]:
        """The cached labels when the fingerprint of ``parts`` matches; says
        in the log what was reused, or which parts differ.

        Args:
            parts (dict): the fingerprint's component digests.
            num_samples (int): the expected number of labels.

        Returns:
            np.ndarray | None: the labels on a hit, else None.
        """
        fingerprint = combine_fingerprint(parts)
        hit = self.load(fingerprint, num_samples)
        if hit is not None:
            print_log(
                f'reusing {self.path(LABELS_FILE)} (fingerprint '
                f'{fingerprint[:12]}, N={num_samples}); no extraction, no '
                'k-means.',
                logger='current')
            return hit[0]
        stale = self.stale_parts(parts)
        if stale:
            print_log(
                f'the cache in {self.directory} was made with another '
                f'{", ".join(stale)}; it is not used and will be replaced.',
                logger='current',
                level=logging.WARNING)
        return None

    def save(self, labels: np.ndarray, centroids: np.ndarray,
             parts: Dict[str, str], **info) -> None:
        """Write the source's clustering: drop the rounds of an older run,
        then write labels, centroids and the manifest (last: the fingerprint
        of ``parts``, ``info``, the package versions and the time).

        Args:
            labels (np.ndarray): (N,) int64.
            centroids (np.ndarray): (K, D) float32.
            parts (dict): the fingerprint's component digests.
            **info: more manifest entries (settings, statistics).
        """
        # Invalidate an older result first: a crash below must not leave its
        # manifest beside new labels.
        if osp.exists(self.path(MANIFEST_FILE)):
            os.remove(self.path(MANIFEST_FILE))
        for name in os.listdir(self.directory) if osp.isdir(
                self.directory) else []:
            if ROUND_PATTERN.fullmatch(name):
                os.remove(self.path(name))
        atomic_save_npy(self.path(LABELS_FILE), labels.astype(np.int64))
        atomic_save_npy(
            self.path(CENTROIDS_FILE), centroids.astype(np.float32))
        atomic_save_json(
            self.path(MANIFEST_FILE),
            dict(
                info,
                fingerprint=combine_fingerprint(parts),
                fingerprint_parts=parts,
                versions=package_versions(),
                created=time.strftime('%Y-%m-%dT%H:%M:%S%z')))

    def save_round(self, epoch: int, labels: np.ndarray) -> str:
        """Write the labels of the re-clustering round at ``epoch``.

        Args:
            epoch (int): the epoch the round starts.
            labels (np.ndarray): (N,) int64.

        Returns:
            str: the file written.
        """
        path = self.path(round_file(epoch))
        atomic_save_npy(path, labels)
        return path

    def load_round(self, epoch: int) -> np.ndarray:
        """The labels of the round at ``epoch``.

        Args:
            epoch (int): the epoch the round started.

        Returns:
            np.ndarray: the labels.
        """
        path = self.path(round_file(epoch))
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path}, the labels of the re-clustering round at epoch '
                f'{epoch}, is missing. Resume from an earlier checkpoint, or '
                'start the run again.')
        return np.load(path, allow_pickle=False)

    def feature_store(self, num_rows: int, dtype: str, key: str, rank: int,
                      world_size: int, flush_every: int) -> FeatureStore:
        """This rank's disk feature store for features identified by
        ``key``, resumable; this rank's shards of other features are
        removed.

        Args:
            num_rows (int): rows of this rank.
            dtype (str): ``'float32'`` or ``'float16'``.
            key (str): fingerprint of the features.
            rank (int): this rank.
            world_size (int): the number of ranks.
            flush_every (int): rows between progress records.

        Returns:
            FeatureStore: the store under ``features/``.
        """
        directory = self.path('features')
        shard = f'-rank{rank}-of-{world_size}.npy'
        name = key[:16] + shard
        if osp.isdir(directory):
            for old in os.listdir(directory):
                if shard in old and not old.startswith(name):
                    os.remove(osp.join(directory, old))
        return FeatureStore(
            num_rows,
            dtype,
            osp.join(directory, name),
            key=key,
            flush_every=flush_every)
