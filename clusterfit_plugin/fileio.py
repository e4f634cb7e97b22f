# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""File I/O: atomic writes (a file is complete or absent, never
half-written), memory-mapped ``.npy`` files opened without following
symbolic links and allocated in full before use, and content hashes."""
import errno
import functools
import hashlib
import json
import os
import os.path as osp
import stat
import tempfile
from typing import Callable, Optional, Sequence

import numpy as np
import torch


def _umask() -> int:
    """This process's umask (reading it means setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: str, write: Callable) -> None:
    """Write ``path`` through ``write(file_object)`` atomically."""
    directory = osp.dirname(osp.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=directory)
        # mkstemp makes 0600 files; give the permissions a plain open would.
        os.fchmod(fd, 0o666 & ~_umask())
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


def atomic_save_torch(path: str, obj) -> None:
    """Save an object with ``torch.save`` atomically (through an
    exclusively created temporary file: a link planted at a predictable
    name is never written through).

    Args:
        path (str): destination file.
        obj: what ``torch.save`` takes.
    """
    _atomic_write(path, lambda f: torch.save(obj, f))


def load_torch(path: str, what: str, load: Optional[Callable] = None):
    """Read a torch checkpoint file; an empty, cut or foreign file is an
    error that names it.

    Args:
        path (str): the file.
        what (str): what it is (``'source checkpoint'``), for the message.
        load (Callable, optional): reads ``path``. Defaults to
            ``torch.load(path, map_location='cpu', weights_only=True)``.

    Returns:
        what ``load`` returns.
    """
    if load is None:
        load = functools.partial(
            torch.load, map_location='cpu', weights_only=True)
    try:
        return load(path)
    except EOFError as e:  # an empty file, or a legacy file cut short
        reason = str(e) or 'no data'
    except RuntimeError as e:  # a zip file cut short, or not a zip file
        if 'PytorchStreamReader' not in str(e) and 'zip' not in str(e):
            raise
        reason = str(e).split('. ')[0]
    raise ValueError(f'{what} {path!r} is empty, cut short or not a torch '
                     f'checkpoint ({reason}); copy or save it again.')


def load_npy(path: str, name: str) -> np.ndarray:
    """Read a ``.npy`` array without unpickling; an empty, cut, foreign or
    pickled file is an error that names it.

    Args:
        path (str): the file.
        name (str): how the message names it (``"label_file='l.npy'"``).

    Returns:
        np.ndarray: the array.
    """
    try:
        return np.load(path, allow_pickle=False)
    except EOFError as e:  # an empty file, or one cut short
        raise ValueError(f'{name} is not a readable .npy array: it is empty '
                         f'or cut short ({e}); copy it again or regenerate '
                         'it.') from e
    except ValueError as e:
        if 'allow_pickle' in str(e):
            raise ValueError(
                f'{name} holds Python objects, which are not loaded (they '
                'could run code). Save it as a plain array, e.g. '
                'np.save(path, np.array(values)).') from e
        raise ValueError(f'{name} is not a readable .npy array ({e}); '
                         'regenerate it.') from e


def open_nofollow(path: str, flags: int, mode: int = 0o666) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (a link planted
    at a predictable name would make a write land on its target).

    Args:
        path (str): the file.
        flags (int): ``os.O_*`` flags.
        mode (int): permissions of a new file (less the umask).

    Returns:
        int: the file descriptor.
    """
    try:
        return os.open(path, flags | os.O_NOFOLLOW, mode)
    except OSError as e:
        if e.errno == errno.ELOOP or osp.islink(path):
            raise OSError(
                errno.ELOOP, f'{path} is a symbolic link that this run did '
                'not create; it is not followed, so that its target is not '
                'overwritten. Remove the link, or point cache_dir '
                'elsewhere.') from e
        raise


def _allocate_blocks(f, path: str, size: int, remove: bool) -> None:
    """Give the open file ``f`` its blocks up to ``size`` bytes (a hole
    written through a memory map is a SIGBUS on a full disk); on failure
    raise an ``OSError`` naming the file, the size and the free space, and
    delete the file if ``remove``."""
    try:
        if hasattr(os, 'posix_fallocate'):
            os.posix_fallocate(f.fileno(), 0, size)
        else:
            f.truncate(size)
    except OSError as e:
        if remove:
            os.remove(path)
        free = disk_free(osp.dirname(osp.abspath(path)))
        raise OSError(
            e.errno, f'could not allocate {format_size(size)} for '
            f'{path}: {e.strerror or e}'
            f'{"" if free is None else f" ({format_size(free)} free)"}'
            '. Free some space, point cache_dir at a larger disk, or keep '
            "the features in memory: features=dict(storage='memory').") from e


def create_npy_memmap(path: str, dtype: str,
                      shape: Sequence[int]) -> np.memmap:
    """Create a ``.npy`` file of ``shape`` and map it for writing.

    The file's blocks are allocated before it is mapped, so a full disk is
    an ``OSError`` here, naming the file and the size, instead of a SIGBUS
    at the first write into a page that has no block. A symbolic link at
    ``path`` is refused (:func:`open_nofollow`).

    Args:
        path (str): the file (replaced when it exists).
        dtype (str): element type.
        shape (sequence of int): the array's shape.

    Returns:
        np.memmap: the writable mapping.
    """
    dtype = np.dtype(dtype)
    header = dict(
        descr=np.lib.format.dtype_to_descr(dtype),
        fortran_order=False,
        shape=tuple(int(n) for n in shape))
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, 'r+b') as f:
        np.lib.format.write_array_header_1_0(f, header)
        offset = f.tell()
        size = offset + int(np.prod(header['shape'])) * dtype.itemsize
        _allocate_blocks(f, path, size, remove=True)
        return np.memmap(
            f, dtype=dtype, mode='r+', offset=offset, shape=header['shape'])


def format_size(num_bytes: int) -> str:
    """A size for a message: MiB, or bytes below 0.1 MiB (never
    '0.0 MiB').

    Args:
        num_bytes (int): the size.

    Returns:
        str: e.g. ``'3.0 MiB'`` or ``'1200 bytes'``.
    """
    if num_bytes < 2**20 / 10:
        return f'{num_bytes} bytes'
    return f'{num_bytes / 2**20:.1f} MiB'


def open_npy_memmap(path: str) -> np.memmap:
    """Map an existing ``.npy`` file for reading and writing, without
    following a symbolic link at ``path``. Its blocks are allocated first,
    as :func:`create_npy_memmap` does: a file copied with holes (``cp
    --sparse=always``) and resumed on a full disk is an ``OSError``, not a
    SIGBUS.

    Args:
        path (str): the file.

    Returns:
        np.memmap: the mapping.

    Raises:
        OSError: the file is missing, unreadable or a symbolic link.
        ValueError: it is not a ``.npy`` file.
    """
    fd = open_nofollow(path, os.O_RDWR)
    with os.fdopen(fd, 'r+b') as f:
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0) else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(f)
        if fortran_order or not shape:
            raise ValueError(f'{path} is not a C-ordered array.')
        size = f.tell() + int(np.prod(shape)) * dtype.itemsize
        _allocate_blocks(f, path, size, remove=False)
        return np.memmap(
            f, dtype=dtype, mode='r+', offset=f.tell(), shape=shape)


def disk_free(directory: str) -> Optional[int]:
    """Bytes available to this user on the disk of ``directory``.

    Args:
        directory (str): an existing directory.

    Returns:
        int | None: free bytes, or None when they cannot be known.
    """
    try:
        stat = os.statvfs(directory)
    except (OSError, AttributeError):
        return None
    return stat.f_bavail * stat.f_frsize


def remove_if_present(path: str) -> None:
    """Delete a file; one that is already gone (another process removed it)
    is not an error.

    Args:
        path (str): the file.
    """
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


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

    Raises:
        OSError: ``path`` is not a regular file.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        # A FIFO would block the read forever, a device never end.
        raise OSError(
            errno.EINVAL, f'{path} is not a regular file (a FIFO, device or '
            'directory); it is not read.')
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        if os.fstat(f.fileno()).st_size <= block:
            h.update(f.read())  # one read the file's size, not a block
        else:
            for chunk in iter(lambda: f.read(block), b''):
                h.update(chunk)
    return h.hexdigest()
