"""The clustering cache: fingerprints, atomic files and the manifest.

A cache directory holds ``labels.npy`` (int64, one per sample, dataset order),
``centroids.npy`` and ``manifest.json``. Every file is written to a temporary
name in the same directory and renamed into place, and the manifest is
written last: a cache is valid only when its manifest exists and its
fingerprint matches, so an interrupted write is never mistaken for a result.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np

from ..fileio import atomic_save_json, atomic_save_npy

__all__ = [
    'ClusterCache', 'atomic_save_json', 'atomic_save_npy',
    'combine_fingerprint', 'sha256_file', 'sha256_of'
]

LABELS_FILE = 'labels.npy'
CENTROIDS_FILE = 'centroids.npy'
MANIFEST_FILE = 'manifest.json'


def sha256_of(obj) -> str:
    """SHA-256 of an object's canonical JSON (``repr`` for the rest).

    Args:
        obj: anything JSON-serialisable, or with a stable ``repr``.

    Returns:
        str: hex digest.
    """
    text = json.dumps(obj, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def sha256_file(path: str, block: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes.

    Args:
        path (str): the file.
        block (int): read size. Defaults to 4 MiB.

    Returns:
        str: hex digest.
    """
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(block), b''):
            h.update(chunk)
    return h.hexdigest()


def combine_fingerprint(parts: Dict[str, str]) -> str:
    """One fingerprint from named component digests.

    Args:
        parts (dict): component name -> digest.

    Returns:
        str: hex digest over all components.
    """
    return sha256_of(sorted(parts.items()))


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
        return sorted(k for k in set(parts) | set(cached)
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

    def save(self, labels: np.ndarray, centroids: np.ndarray,
             manifest: dict, extra: Optional[Dict[str, np.ndarray]] = None
             ) -> None:
        """Write labels, centroids, extra arrays, then the manifest.

        Args:
            labels (np.ndarray): (N,) int64.
            centroids (np.ndarray): (K, D) float32.
            manifest (dict): must hold ``fingerprint``.
            extra (dict, optional): more arrays, file name -> array.
        """
        # Invalidate an older result first: a crash below must not leave its
        # manifest beside new labels.
        if osp.exists(self.path(MANIFEST_FILE)):
            os.remove(self.path(MANIFEST_FILE))
        atomic_save_npy(self.path(LABELS_FILE), labels.astype(np.int64))
        atomic_save_npy(self.path(CENTROIDS_FILE),
                        centroids.astype(np.float32))
        for name, array in (extra or {}).items():
            atomic_save_npy(self.path(name), array)
        atomic_save_json(self.path(MANIFEST_FILE), manifest)
