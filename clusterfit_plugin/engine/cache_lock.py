# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""An exclusive, per-process lock on a cache directory (``flock`` on a lock
file that names its holder): two runs never write one cache, and a killed
run leaves no lock behind."""
import fcntl
import os
import os.path as osp
import socket
import time
from typing import Dict

from ..fileio import open_nofollow

# Cache directories whose lock this process holds: real path -> descriptor.
_HELD: Dict[str, int] = {}


def lock_directory(directory: str, lock: str) -> None:
    """Take the exclusive lock on ``directory`` for this process, until
    :func:`unlock_directory` or the process ends. The directory is created
    and checked for writing.

    Args:
        directory (str): the cache directory.
        lock (str): its lock file (opened without following a link).

    Raises:
        OSError: the directory cannot be created or written.
        RuntimeError: another process holds the lock; the message names
            it.
    """
    real = osp.realpath(directory)
    if real in _HELD:
        return
    try:
        os.makedirs(directory, exist_ok=True)
        if not os.access(directory, os.W_OK):
            raise PermissionError(13, 'not writable')
        fd = open_nofollow(lock, os.O_RDWR | os.O_CREAT)
    except OSError as e:
        raise OSError(
            e.errno, f'cache_dir {directory} cannot be used: '
            f'{e.strerror or e}. Point cache_dir (or --work-dir) at a '
            'writable directory; nothing was extracted.') from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors='replace').strip()
        os.close(fd)
        raise RuntimeError(
            f'{directory} is in use by {holder or "another run"} '
            f'(lock {lock}). Two runs on one cache would overwrite each '
            "other's labels: wait for that run to end, or give this one "
            'its own cache_dir (or --work-dir).') from None
    os.ftruncate(fd, 0)
    os.pwrite(
        fd, f'pid {os.getpid()} on {socket.gethostname()} since '
        f'{time.strftime("%Y-%m-%dT%H:%M:%S%z")}\n'.encode(), 0)
    _HELD[real] = fd


def unlock_directory(directory: str) -> None:
    """Give up the lock :func:`lock_directory` took (no-op without it).

    Args:
        directory (str): the cache directory.
    """
    fd = _HELD.pop(osp.realpath(directory), None)
    if fd is not None:
        os.close(fd)
