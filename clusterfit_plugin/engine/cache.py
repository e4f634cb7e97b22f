# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The clustering cache: ``labels.npy``, ``centroids.npy`` and
``manifest.json`` (the source's clustering), the ``labels_epoch{E}.npy`` of
re-clustering rounds (each bound to the run that wrote it), the disk feature
store's shards under ``features/`` and ``diagnostics/``. Files are written
atomically and the manifest last, with the SHA-256 of each file it vouches
for: a cache is used only when its fingerprint matches and its files' bytes
are the recorded ones. A run locks the directory (``.lock``).
"""
import errno
import json
import logging
import os
import os.path as osp
import re
import time
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from mmengine.logging import print_log

from ..clustering import FeatureStore
from ..datasets.clusterfit_dataset import check_label_range
from ..fileio import (atomic_save_json, atomic_save_npy, remove_if_present,
                      sha256_file)
from .cache_lock import lock_directory, unlock_directory
from .fingerprint import combine_fingerprint, package_versions

LABELS_FILE = 'labels.npy'
CENTROIDS_FILE = 'centroids.npy'
MANIFEST_FILE = 'manifest.json'
LOCK_FILE = '.lock'
ROUND_PATTERN = re.compile(r'labels_epoch\d+\.npy')
TEMP_PATTERN = re.compile(r'\..+\.tmp')
SHARD_PATTERN = re.compile(r'([0-9a-f]{16})-rank(\d+)-of-(\d+)\.npy(\.json)?')


def shard_name(key: str, rank: int, world_size: int) -> str:
    """The file of one rank's disk-store shard (``SHARD_PATTERN``).

    Args:
        key (str): the features' fingerprint.
        rank (int): the shard's rank.
        world_size (int): the number of shards.

    Returns:
        str: ``{key[:16]}-rank{rank}-of-{world_size}.npy``.
    """
    return f'{key[:16]}-rank{rank}-of-{world_size}.npy'


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

    def _names(self, sub: str = '') -> list:
        """The file names in the directory (or its ``sub`` folder)."""
        try:
            return os.listdir(self.path(sub) if sub else self.directory)
        except FileNotFoundError:
            return []

    def acquire(self) -> None:
        """Take the exclusive lock on the directory for this process
        (:func:`lock_directory`), check where files go, and remove what
        killed writes left (``.*.tmp``), before any extraction."""
        lock_directory(self.directory, self.path(LOCK_FILE))
        self.path('diagnostics')  # a linked sub-directory is refused here
        for name in (LABELS_FILE, CENTROIDS_FILE, MANIFEST_FILE):
            if osp.isdir(self.path(name)):
                raise IsADirectoryError(
                    f'{self.path(name)} is a directory where the cache writes '
                    'a file; remove it, or point cache_dir elsewhere. '
                    'Nothing was extracted.')
        for sub in ('', 'features'):
            for name in self._names(sub):
                if TEMP_PATTERN.fullmatch(name):
                    remove_if_present(osp.join(self.path(sub), name))

    def release(self) -> None:
        """Give up the lock taken by :meth:`acquire` (no-op without it)."""
        unlock_directory(self.directory)

    def drop_other_shards(self, world_size: int) -> None:
        """Remove the disk store's shards made by another number of ranks
        (they can never be resumed by this run).

        Args:
            world_size (int): this run's number of ranks.
        """
        for name in self._names('features'):
            match = SHARD_PATTERN.fullmatch(name)
            if match and int(match.group(3)) != world_size:
                remove_if_present(osp.join(self.path('features'), name))

    def feature_shards(self, key: str) -> Dict[int, Dict[int, str]]:
        """The disk-store shards of the features identified by ``key``.

        Args:
            key (str): the features' fingerprint (:func:`feature_key`).

        Returns:
            dict: world size -> {rank: path}.
        """
        found = {}
        for name in sorted(self._names('features')):
            match = SHARD_PATTERN.fullmatch(name)
            if match and not match.group(4) and match.group(1) == key[:16]:
                rank, world = int(match.group(2)), int(match.group(3))
                found.setdefault(world, {})[rank] = osp.join(
                    self.path('features'), name)
        return found

    def path(self, name: str) -> str:
        """Path of a file or sub-directory in the cache. A sub-directory
        that is a symbolic link is refused: the cache deletes and replaces
        files in it, and would do so in the link's target.

        Args:
            name (str): file name, or ``'features'`` / ``'diagnostics'``.

        Returns:
            str: the path.
        """
        path = osp.join(self.directory, name)
        if name in ('features', 'diagnostics') and osp.islink(path):
            raise OSError(
                errno.ELOOP, f'{path} is a symbolic link; the cache writes '
                'and deletes files in its sub-directories and does not '
                'follow links there. Remove the link, or point cache_dir at '
                'the disk you want.')
        return path

    def read_manifest(self) -> Optional[dict]:
        """The manifest, or None when absent, unreadable or not of the
        expected shape (then the log says so, and the cache is rebuilt).

        Returns:
            dict | None: the manifest.
        """
        path = self.path(MANIFEST_FILE)
        try:
            with open(path, encoding='utf-8') as f:
                manifest = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            manifest = e
        if (isinstance(manifest, dict)
                and isinstance(manifest.get('fingerprint'), str)
                and isinstance(manifest.get('fingerprint_parts'), dict)
                and isinstance(manifest.get('files', {}), dict)):
            return manifest
        print_log(
            f'{path} is not a manifest of this plugin ({str(manifest)[:80]}); '
            'the cache it describes is not used and will be replaced.',
            logger='current',
            level=logging.WARNING)
        return None

    def _vouched(self, manifest: dict, name: str) -> bool:
        """Whether ``name``'s bytes are the ones the manifest recorded."""
        expected = manifest.get('files', {}).get(name)
        try:
            return expected is not None and sha256_file(
                self.path(name)) == expected
        except OSError:
            return False

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
        cached = manifest['fingerprint_parts']
        return sorted(
            k for k in set(parts) | set(cached)
            if parts.get(k) != cached.get(k))

    def load(self, fingerprint: str,
             num_samples: int) -> Optional[Tuple[np.ndarray, dict]]:
        """Labels and manifest of a matching cache: the fingerprint
        matches, the labels' and centroids' bytes are the ones the manifest
        recorded, and there is one label in ``[0, K)`` per sample. A cache
        that fails a check is a miss (the log says which check), so it is
        rebuilt.

        Args:
            fingerprint (str): the expected fingerprint.
            num_samples (int): the expected number of labels.

        Returns:
            tuple | None: ``(labels, manifest)`` on a hit, else None.
        """
        manifest = self.read_manifest()
        if manifest is None or manifest['fingerprint'] != fingerprint:
            return None
        path = self.path(LABELS_FILE)
        problem = None
        if not all(
                self._vouched(manifest, name)
                for name in (LABELS_FILE, CENTROIDS_FILE)):
            problem = ('its bytes are not the ones the manifest recorded '
                       '(changed, truncated or from another run)')
        else:
            labels = np.load(path, allow_pickle=False)
            try:
                if labels.shape != (num_samples, ) or (labels.dtype
                                                       != np.int64):
                    raise ValueError(f'shape {labels.shape}, dtype '
                                     f'{labels.dtype}')
                check_label_range(labels, manifest.get('num_clusters'), path)
            except ValueError as e:
                problem = f'it does not hold {num_samples} labels in [0, K) '\
                    f'({str(e).splitlines()[0]})'
        if problem is None:
            return labels, manifest
        print_log(
            f'{path} matches the fingerprint but {problem}; it is not used '
            'and will be rebuilt.',
            logger='current',
            level=logging.WARNING)
        return None

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
        remove_if_present(self.path(MANIFEST_FILE))
        for name in self._names():
            if ROUND_PATTERN.fullmatch(name):
                remove_if_present(self.path(name))
        atomic_save_npy(self.path(LABELS_FILE), labels.astype(np.int64))
        atomic_save_npy(
            self.path(CENTROIDS_FILE), centroids.astype(np.float32))
        atomic_save_json(
            self.path(MANIFEST_FILE),
            dict(
                info,
                fingerprint=combine_fingerprint(parts),
                fingerprint_parts=parts,
                files={
                    name: sha256_file(self.path(name))
                    for name in (LABELS_FILE, CENTROIDS_FILE)
                },
                versions=package_versions(),
                created=time.strftime('%Y-%m-%dT%H:%M:%S%z')))

    def save_round(self, epoch: int, labels: np.ndarray, run: str) -> str:
        """Write the labels of the re-clustering round at ``epoch``, and
        their SHA-256 and the run that made them into the manifest.

        Args:
            epoch (int): the epoch the round starts.
            labels (np.ndarray): (N,) int64.
            run (str): the run's identity: its work directory.

        Returns:
            str: the file written.
        """
        name = round_file(epoch)
        atomic_save_npy(self.path(name), labels.astype(np.int64))
        manifest = self.read_manifest()
        if manifest is not None:
            manifest.setdefault('files',
                                {})[name] = sha256_file(self.path(name))
            manifest.setdefault('rounds', {})[name] = osp.realpath(run)
            atomic_save_json(self.path(MANIFEST_FILE), manifest)
        return self.path(name)

    def load_round(self, epoch: int, run: str) -> np.ndarray:
        """The labels of the round at ``epoch``, if ``run`` made them.

        Args:
            epoch (int): the epoch the round started.
            run (str): the resuming run's identity (its work directory).

        Returns:
            np.ndarray: the labels.
        """
        path = self.path(round_file(epoch))
        what = f'{path}, the labels of the round at epoch {epoch},'
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{what} is missing. Resume from an earlier checkpoint, or '
                'start the run again.')
        manifest = self.read_manifest()
        if manifest is None or not self._vouched(manifest, round_file(epoch)):
            raise ValueError(
                f'{what} are not the bytes that {self.path(MANIFEST_FILE)} '
                'recorded (changed, truncated or from another run). Resume '
                'from an earlier checkpoint, or start the run again.')
        owner = manifest.get('rounds', {}).get(round_file(epoch))
        if owner != osp.realpath(run):
            raise ValueError(
                f'{what} were written by the run in {owner or "an unknown"} '
                f'work dir, not by this one ({osp.realpath(run)}): two runs '
                'share this cache_dir, and resuming would train on the '
                "other's labels. Give each run its own cache_dir (or work "
                'dir) and start this one again.')
        return np.load(path, allow_pickle=False)

    def feature_store(self,
                      num_rows: int,
                      dtype: str,
                      key: str,
                      rank: int,
                      world_size: int,
                      flush_every: int,
                      check_dim: Optional[Callable] = None) -> FeatureStore:
        """This rank's resumable disk store of the features ``key``; its
        shards of other features are removed.

        Args:
            num_rows (int): rows of this rank.
            dtype (str): ``'float32'`` or ``'float16'``.
            key (str): fingerprint of the features.
            rank (int): this rank.
            world_size (int): the number of ranks.
            flush_every (int): rows between progress records.
            check_dim (callable, optional): see :class:`FeatureStore`.

        Returns:
            FeatureStore: the store under ``features/``.
        """
        directory = self.path('features')
        name = shard_name(key, rank, world_size)
        for old in self._names('features'):
            match = SHARD_PATTERN.fullmatch(old)
            mine = match and match.group(2, 3) == (str(rank), str(world_size))
            if mine and not old.startswith(name):
                remove_if_present(osp.join(directory, old))
        path = osp.join(directory, name)
        return FeatureStore(num_rows, dtype, path, key, flush_every, check_dim)
