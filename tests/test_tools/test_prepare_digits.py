# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""tools/demo/prepare_digits.py: scikit-learn's digits as MNIST-shaped PNG
files with stratified annotation lists, the transfer data of the demo."""
import collections
import os.path as osp

import cv2
import numpy as np
from helpers import load_tool
from mmpretrain.datasets import CustomDataset
from sklearn.datasets import load_digits


def test_digits_are_written_as_mnist_shaped_images(tmp_path):
    out = str(tmp_path / 'digits')
    load_tool('demo/prepare_digits').write_digits(out)
    digits = load_digits()
    splits = {}
    for split in ('train', 'test'):
        with open(osp.join(out, f'{split}.txt')) as f:
            splits[split] = [line.split() for line in f]
    assert len(splits['train']) == 900 and len(splits['test']) == 897
    train_counts = collections.Counter(int(y) for _, y in splits['train'])
    assert set(train_counts.values()) == {90}
    names = [n for split in splits.values() for n, _ in split]
    assert len(set(names)) == 1797  # every digit once, in one split
    for name, label in splits['train'][:20]:
        i = int(osp.basename(name)[:-len('.png')])
        assert int(label) == digits.target[i]
        img = cv2.imread(osp.join(out, name), cv2.IMREAD_UNCHANGED)
        assert img.shape == (28, 28) and img.dtype == np.uint8
        # The 8x8 digit, scaled to 0-255 and enlarged to 20x20 (cv2's
        # bilinear), centred; the 4-pixel border is black.
        big = cv2.resize(
            digits.images[i].astype(np.float32) * 255 / 16, (20, 20),
            interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(img[4:24, 4:24], big, atol=0.51)
        assert img[:4].max() == 0 and img[:, 24:].max() == 0
    # mmpretrain reads it with the demo's data config's dataset class.
    dataset = CustomDataset(data_root=out, ann_file='test.txt', pipeline=[])
    assert len(dataset) == 897
