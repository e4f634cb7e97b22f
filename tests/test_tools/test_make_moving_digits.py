# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""tools/demo/make_moving_digits.py: the labels say what the decoded clips
show, measured on the frames themselves."""
import os.path as osp

import numpy as np
import pytest
from helpers import load_tool

from clusterfit_plugin.datasets.transforms import VideoReader

make = load_tool('demo/make_moving_digits')


def read_list(root, name):
    with open(osp.join(root, name)) as f:
        return [(p, int(label)) for p, label in (line.split() for line in f)]


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('moving_digits'))
    make.make_moving_digits(out, train_per_class=4, test_per_class=2)
    return out


def test_lists_are_balanced_and_the_noise_is_forty_percent(root):
    train = read_list(root, 'train.txt')
    noisy = read_list(root, 'train_noisy40.txt')
    assert [p for p, _ in noisy] == [p for p, _ in train]
    assert np.bincount([d for _, d in train]).tolist() == [4] * 10
    assert np.bincount([d for _, d in read_list(root, 'test.txt')
                        ]).tolist() == [2] * 10
    wrong = sum(a != b for (_, a), (_, b) in zip(train, noisy))
    assert wrong == int(0.4 * len(train))
    motion = read_list(root, 'train_motion.txt')
    assert [p for p, _ in motion] == [p for p, _ in train]
    assert np.bincount([m for _, m in motion]).tolist() == [10] * 4


@pytest.mark.parametrize('split', ['train', 'test'])
def test_motion_labels_match_the_digit_in_the_frames(root, split):
    """The bright digit (the clutter is dimmed below it) moves along the
    labelled axis at the labelled speed."""
    for path, motion in read_list(root, f'{split}_motion.txt'):
        frames = VideoReader(osp.join(root, 'videos', path),
                             'pyav').read(np.arange(16))[..., 0].astype(float)
        assert frames.shape == (16, 32, 32)
        ys, xs = [], []
        for frame in frames:
            mask = frame > 170
            assert mask.any()
            rows, cols = np.nonzero(mask)
            ys.append(rows.mean())
            xs.append(cols.mean())
        vertical, fast = divmod(motion, 2)
        along, across = (ys, xs) if vertical else (xs, ys)
        assert np.ptp(along) > 2 * np.ptp(across) + 1, (path, motion)
        # The median step along the axis is the speed (a bounce changes
        # the sign, not the size, of most steps).
        step = np.median(np.abs(np.diff(along)))
        assert abs(step - make.SPEEDS[fast]) < 0.75, (path, step, motion)


def test_bounce_reflects_at_both_ends():
    positions = make.bounce(3.0, 2.5, 16, 8)
    assert positions.min() >= 0 and positions.max() <= 8
    np.testing.assert_array_equal(
        make.bounce(0.0, 1.0, 12, 4), [0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3])
    np.testing.assert_array_equal(
        make.bounce(2.0, -1.0, 5, 4), [2, 1, 0, 1, 2])


def test_out_of_range_counts_are_refused(tmp_path):
    with pytest.raises(ValueError, match='train_per_class must be in'):
        make.make_moving_digits(str(tmp_path), train_per_class=401)
