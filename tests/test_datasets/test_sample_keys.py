# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Sample identities: duplicates however they are spelt, and the opt-in
content fingerprint."""
import os

import pytest

from clusterfit_plugin.datasets import scan_samples


class Files:
    """A minimal dataset of files (``get_data_info`` as mmengine's)."""

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, i):
        return dict(img_path=self.paths[i], gt_label=i % 2)


@pytest.fixture
def files(tmp_path):
    (tmp_path / 'img').mkdir()
    for name in ('a', 'b'):
        (tmp_path / 'img' / f'{name}.png').write_bytes(name.encode() * 10)
    return tmp_path


@pytest.mark.parametrize('spelling',
                         ['{d}/img/./b.png', '{d}/img//b.png', '{d}/link.png'])
def test_duplicates_are_found_however_spelt(files, spelling):
    (files / 'link.png').symlink_to(files / 'img' / 'b.png')
    paths = [
        f'{files}/img/a.png', f'{files}/img/b.png',
        spelling.format(d=files)
    ]
    with pytest.raises(
            ValueError,
            match='samples 1 and 2 of the dataset are '
            'the same file'):
        scan_samples(Files(paths))


def test_contents_fingerprints(files):
    paths = [f'{files}/img/a.png', f'{files}/img/b.png']
    before = {
        c: scan_samples(Files(paths), c)[0]
        for c in ('none', 'mtime_size', 'sha256')
    }
    assert before['none'] == paths
    assert scan_samples(Files(paths))[1].tolist() == [0, 1]
    target = files / 'img' / 'b.png'
    stat = target.stat()
    target.write_bytes(b'c' * 10)  # same size, other bytes
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert scan_samples(Files(paths), 'none')[0] == before['none']
    assert scan_samples(Files(paths), 'mtime_size')[0] == before['mtime_size']
    assert scan_samples(Files(paths), 'sha256')[0] != before['sha256']
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert scan_samples(Files(paths), 'mtime_size')[0] != before['mtime_size']


def test_contents_of_a_missing_file_name_it(files):
    paths = [f'{files}/img/a.png', f'{files}/img/gone.png']
    with pytest.raises(FileNotFoundError, match=r'sample 1 .*gone.png'):
        scan_samples(Files(paths), 'mtime_size')
    with pytest.raises(ValueError, match="contents='md5' is unknown"):
        scan_samples(Files(paths), 'md5')
    assert len(scan_samples(Files(paths))[0]) == 2
