# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""fileio: atomic writes, link-refusing opens, allocated memory maps and
content hashes, against the stock readers (numpy, json, torch, hashlib)."""
import hashlib
import json
import os

import numpy as np
import pytest
import torch

from clusterfit_plugin.fileio import (atomic_save_bytes, atomic_save_json,
                                      atomic_save_npy, atomic_save_text,
                                      atomic_save_torch, create_npy_memmap,
                                      open_nofollow, open_npy_memmap,
                                      remove_if_present, sha256_file,
                                      sha256_of)


def test_atomic_writes_read_back_with_the_stock_readers(tmp_path):
    array = np.arange(6, dtype=np.int64).reshape(2, 3)
    atomic_save_npy(str(tmp_path / 'a.npy'), array)
    np.testing.assert_array_equal(np.load(tmp_path / 'a.npy'), array)
    atomic_save_json(str(tmp_path / 'a.json'), dict(b=1, a=[2]))
    assert json.load(open(tmp_path / 'a.json')) == dict(a=[2], b=1)
    assert open(tmp_path / 'a.json').read().index('"a"') < open(
        tmp_path / 'a.json').read().index('"b"')  # sorted keys
    atomic_save_text(str(tmp_path / 'a.txt'), 'héllo\n')
    assert open(tmp_path / 'a.txt', encoding='utf-8').read() == 'héllo\n'
    atomic_save_bytes(str(tmp_path / 'a.bin'), b'\x00\x01')
    assert (tmp_path / 'a.bin').read_bytes() == b'\x00\x01'
    atomic_save_torch(str(tmp_path / 'a.pth'), dict(w=torch.ones(2)))
    torch.testing.assert_close(
        torch.load(tmp_path / 'a.pth', weights_only=True)['w'], torch.ones(2))
    assert sorted(os.listdir(tmp_path)) == [
        'a.bin', 'a.json', 'a.npy', 'a.pth', 'a.txt'
    ]  # no temporary file left


def test_atomic_write_gets_the_umask_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_save_text(str(tmp_path / 'p.txt'), 'x')
    finally:
        os.umask(old)
    assert oct(os.stat(tmp_path / 'p.txt').st_mode & 0o777) == oct(0o640)


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / 'keep.pth')
    atomic_save_torch(path, dict(w=torch.zeros(1)))
    with pytest.raises(Exception, match='pickle'):  # fails midway
        atomic_save_torch(path, dict(w=torch.ones(1), f=lambda: 0))
    torch.testing.assert_close(
        torch.load(path, weights_only=True)['w'], torch.zeros(1))
    assert os.listdir(tmp_path) == ['keep.pth']  # no temporary file left
    with pytest.raises(
            OSError, match=r'could not write .*Nothing was '
            'half-written'):
        atomic_save_text(str(tmp_path / 'keep.pth' / 'x.txt'), 'x')


def test_links_are_not_followed(tmp_path):
    victim = tmp_path / 'victim.txt'
    victim.write_text('precious')
    link = tmp_path / 'link.npy'
    link.symlink_to(victim)
    with pytest.raises(
            OSError, match='is a symbolic link that this run did '
            'not create'):
        open_nofollow(str(link), os.O_RDWR)
    with pytest.raises(OSError, match='symbolic link'):
        create_npy_memmap(str(link), 'float32', (2, 2))
    assert victim.read_text() == 'precious'


def test_memmaps_are_allocated_and_reopened(tmp_path):
    path = str(tmp_path / 'm.npy')
    array = create_npy_memmap(path, 'float16', (3, 4))
    # Allocated in full (not sparse): the blocks cover the file.
    assert os.stat(path).st_blocks * 512 >= os.path.getsize(path)
    array[:] = np.arange(12, dtype=np.float16).reshape(3, 4)
    array.flush()
    del array
    np.testing.assert_array_equal(
        np.load(path),
        np.arange(12, dtype=np.float16).reshape(3, 4))  # numpy reads it
    again = open_npy_memmap(path)
    assert again.shape == (3, 4) and again.dtype == np.float16
    np.save(tmp_path / 'f.npy', np.zeros((2, 2)).T)  # Fortran order
    with pytest.raises(ValueError, match='not a C-ordered array'):
        open_npy_memmap(str(tmp_path / 'f.npy'))


def test_remove_if_present_is_idempotent(tmp_path):
    path = tmp_path / 'x'
    path.write_text('x')
    remove_if_present(str(path))
    remove_if_present(str(path))
    assert not path.exists()


def test_hashes_equal_hashlib(tmp_path):
    small = tmp_path / 'small'
    small.write_bytes(b'abc')
    assert sha256_file(str(small)) == hashlib.sha256(b'abc').hexdigest()
    big = tmp_path / 'big'
    data = os.urandom(10_000)
    big.write_bytes(data)
    assert sha256_file(
        str(big),
        block=4096) == hashlib.sha256(data).hexdigest()  # read in blocks
    assert sha256_of(dict(
        a=1, b=[2])) == hashlib.sha256(b'{"a": 1, "b": [2]}').hexdigest()
    assert sha256_of(dict(b=[2], a=1)) == sha256_of(dict(a=1, b=[2]))


def test_hashing_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = str(tmp_path / 'labels.npy')
    os.mkfifo(fifo)
    with pytest.raises(OSError, match='is not a regular file'):
        sha256_file(fifo)  # returns at once: no read that blocks
    with pytest.raises(OSError, match='is not a regular file'):
        sha256_file(str(tmp_path))


def test_a_tiny_allocation_failure_names_bytes_not_zero_mib(tmp_path):
    """'could not allocate 0.0 MiB' said nothing; small sizes are bytes."""
    from clusterfit_plugin.fileio import format_size
    assert format_size(1200) == '1200 bytes'
    assert format_size(3 * 2**20) == '3.0 MiB'
