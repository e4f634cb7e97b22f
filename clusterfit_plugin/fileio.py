# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""File I/O: atomic writes (a file is complete or absent, never
half-written) and content hashes."""
import hashlib
import json
import os
import os.path as osp
import tempfile
from typing import Callable

import numpy as np


def _atomic_write(path: str, write: Callable) -> None:
    """Write ``path`` through ``write(file_object)`` atomically."""
    directory = osp.dirname(osp.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=directory)
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise OSError(
            e.errno, f'could not write {path}: {e.strerror or e}. Make the '
            'directory writable and free some space, or write elsewhere. '
            'Nothing was half-written.') from e
    finally:
        if tmp is not None and osp.exists(tmp):
            os.remove(tmp)


def atomic_save_npy(path: str, array: np.ndarray) -> None:
    """Save an array as ``.npy`` atomically.

    Args:
        path (str): destination file.
        array (np.ndarray): the array.
    """
    _atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def atomic_save_json(path: str, obj: dict) -> None:
    """Save a dict as indented JSON atomically.

    Args:
        path (str): destination file.
        obj (dict): JSON-serialisable content.
    """
    atomic_save_text(path, json.dumps(obj, indent=2, sort_keys=True))


def atomic_save_text(path: str, text: str) -> None:
    """Save UTF-8 text atomically.

    Args:
        path (str): destination file.
        text (str): the content.
    """
    atomic_save_bytes(path, text.encode('utf-8'))


def atomic_save_bytes(path: str, data: bytes) -> None:
    """Save bytes atomically.

    Args:
        path (str): destination file.
        data (bytes): the content.
    """
    _atomic_write(path, lambda f: f.write(data))


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
