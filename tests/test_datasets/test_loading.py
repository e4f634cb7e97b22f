# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""LoadImageFromFileCached: the images of LoadImageFromFile, each file read
once per process."""
import os

import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmpretrain.registry import TRANSFORMS


@pytest.fixture
def reads(monkeypatch) -> list:
    """The paths mmcv's LoadImageFromFile really decoded in this test."""
    calls = []
    real = LoadImageFromFile.transform

    def counted(self, results):
        calls.append(results['img_path'])
        return real(self, results)

    monkeypatch.setattr(LoadImageFromFile, 'transform', counted)
    return calls


def image_paths(image_root, num):
    folder = os.path.join(image_root, 'img')
    return [os.path.join(folder, name)
            for name in sorted(os.listdir(folder))][:num]


def test_serves_what_mmcv_loads_and_reads_each_file_once(image_root, reads):
    paths = image_paths(image_root, 5)
    cached = TRANSFORMS.build(dict(type='LoadImageFromFileCached'))
    stock = LoadImageFromFile()
    served = []
    for epoch in range(3):
        for path in paths:
            out = cached(dict(img_path=path))
            served.append(out['img'].copy())
            assert out['img_shape'] == out['ori_shape'] == out['img'].shape[:2]
            out['img'][:] = 0  # a copy: writing into it leaves the cache
    assert reads == paths  # each file decoded once, in the first epoch
    for i, img in enumerate(served):
        ref = stock(dict(img_path=paths[i % len(paths)]))['img']
        np.testing.assert_array_equal(img, ref)


def test_over_the_budget_images_are_decoded_each_time(image_root, reads):
    path = image_paths(image_root, 1)[0]
    cached = TRANSFORMS.build(
        dict(type='LoadImageFromFileCached', max_cache_mb=0))
    first = cached(dict(img_path=path))['img']
    np.testing.assert_array_equal(cached(dict(img_path=path))['img'], first)
    assert reads == [path, path]


def test_unreadable_file_fails_as_in_mmcv(tmp_path):
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not an image')
    cached = TRANSFORMS.build(dict(type='LoadImageFromFileCached'))
    with pytest.raises(
            AssertionError, match='failed to load image: .*bad.png'):
        cached(dict(img_path=str(bad)))
