# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""tools/demo/make_shapes.py: ten balanced, seeded classes of drawn shapes
in MNIST's format, the generated transfer target of the demo."""
import collections
import filecmp
import os.path as osp

import cv2
import numpy as np
from helpers import load_tool


def test_shapes_are_balanced_seeded_and_tell_their_class(tmp_path):
    tool = load_tool('demo/make_shapes')
    first, second = str(tmp_path / 'a'), str(tmp_path / 'b')
    tool.write_shapes(first)
    tool.write_shapes(second)
    for split in ('train', 'test'):
        with open(osp.join(first, f'{split}.txt')) as f:
            lines = [line.split() for line in f]
        assert len(lines) == 1000
        assert set(collections.Counter(y for _, y in lines).values()) == {100}
        assert filecmp.cmp(
            osp.join(first, f'{split}.txt'),
            osp.join(second, f'{split}.txt'),
            shallow=False)
    assert filecmp.cmp(
        osp.join(first, 'images/0123.png'),
        osp.join(second, 'images/0123.png'),
        shallow=False)
    # Pixels tell the classes apart: on average a filled shape covers more
    # bright pixels than its outline; a plus is upright.
    rng = np.random.default_rng(0)
    bright = {
        kind: np.mean([(tool.draw(kind, rng) > 100).sum() for _ in range(50)])
        for kind in tool.CLASSES
    }
    assert bright['circle'] > bright['ring']
    assert bright['square'] > bright['square-outline']

    def longest_line(kind):  # the most bright pixels in a row or column
        lines = []
        for _ in range(50):
            img = tool.draw(kind, rng) > 100
            lines.append(max(img.sum(0).max(), img.sum(1).max()))
        return np.mean(lines)

    assert longest_line('plus') > 1.4 * longest_line('x')
    img = cv2.imread(osp.join(first, 'images/0000.png'), cv2.IMREAD_UNCHANGED)
    assert img.shape == (28, 28) and img.dtype == np.uint8
