# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Generate moving-digit clips: an MNIST digit moving and bouncing over a
cluttered background, encoded to mp4 with PyAV, with two label sets.

Each clip shows one digit of the MNIST-5k split (``prepare_mnist.py``: train
clips use train digits, test clips test digits, so no digit image is in
both), shrunk to 24x24 on a 32x32 canvas. It moves along one axis
(horizontal or vertical) at one of two speeds, bouncing off the border,
over a static clutter of digit fragments and a little noise. The labels:

* ``digit`` (appearance): the digit's class, 10 classes;
* ``motion``: axis x speed (0 horizontal slow, 1 horizontal fast, 2 vertical
  slow, 3 vertical fast), 4 classes, independent of the digit. The sign of
  the motion is not a label: a bounce reverses it within a clip.
* ``noisy40``: the digit label with 40% of the train clips relabelled as
  another digit (seeded): the weak labels of a weakly-supervised source,
  as hashtags are for the paper's video sources.

Output (``--out``, default ``data/moving_digits``), Kinetics-style lists::

    videos/train/00000.mp4 ...  videos/test/00000.mp4 ...
    train.txt / test.txt                  "train/00000.mp4 digit"
    train_motion.txt / test_motion.txt    "train/00000.mp4 motion"
    train_noisy40.txt                     "train/00000.mp4 noisy digit"

Every random draw is seeded, so the frames are the same on every run and
machine. The encoding is not quite: libx264 (crf 12) encodes about 5% of
these small noisy clips a little differently from one run to the next (up
to 9 grey levels on some pixels), even with one thread, timestamps and the
YUV conversion done beforehand (tried). Numbers trained on two generations
of the clips differ as runs on two machines do.

Usage:
    python tools/demo/make_moving_digits.py --out data/moving_digits \
        --train-per-class 200 --test-per-class 100
"""
import argparse
import os
import os.path as osp
import time

import av
import cv2
import numpy as np
from prepare_mnist import mnist_split

from clusterfit_plugin.fileio import atomic_save_text

CANVAS = 32
DIGIT = 24
SPEEDS = (1.0, 2.5)  # pixels per frame: slow, fast
MOTIONS = ('horizontal-slow', 'horizontal-fast', 'vertical-slow',
           'vertical-fast')
NOISE = 0.4
LISTS = ('train.txt', 'test.txt', 'train_motion.txt', 'test_motion.txt',
         'train_noisy40.txt')


def write_clip(path: str, frames: np.ndarray, fps: int = 8) -> None:
    """Encode (T, H, W, 3) uint8 RGB frames as an H.264 mp4.

    Args:
        path (str): output file.
        frames (np.ndarray): the frames; H and W must be even.
        fps (int): frame rate. Defaults to 8.
    """
    container = av.open(path, 'w')
    stream = container.add_stream('libx264', rate=fps)
    stream.height, stream.width = frames.shape[1:3]
    stream.pix_fmt = 'yuv420p'
    stream.options = {'crf': '12'}
    for frame in frames:
        for packet in stream.encode(
                av.VideoFrame.from_ndarray(frame, format='rgb24')):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def bounce(start: float, velocity: float, num_frames: int,
           length: int) -> np.ndarray:
    """Positions in ``[0, length]`` of a point moving at ``velocity`` that
    reflects off both ends.

    Args:
        start (float): position at frame 0.
        velocity (float): pixels per frame (its sign is the direction).
        num_frames (int): T.
        length (int): the range of positions.

    Returns:
        np.ndarray: (T,) integer positions.
    """
    raw = start + velocity * np.arange(num_frames)
    folded = np.mod(raw, 2 * length)
    return np.rint(np.where(folded > length, 2 * length - folded,
                            folded)).astype(int)


def moving_digit(digit: np.ndarray,
                 motion: int,
                 clutter: np.ndarray,
                 rng: np.random.Generator,
                 num_frames: int = 16) -> np.ndarray:
    """Frames of one digit moving over a static cluttered background.

    Args:
        digit (np.ndarray): (28, 28) uint8 MNIST digit.
        motion (int): index into :data:`MOTIONS`.
        clutter (np.ndarray): (n, 28, 28) uint8 digits whose fragments
            make the background.
        rng (np.random.Generator): randomness of the clip.
        num_frames (int): T. Defaults to 16.

    Returns:
        np.ndarray: (T, 32, 32, 3) uint8 RGB.
    """
    background = np.zeros((CANVAS, CANVAS), np.float32)
    for other in clutter:  # an 8x8 fragment of another digit, dimmed
        y, x = rng.integers(6, 14, size=2)
        top, left = rng.integers(0, CANVAS - 8, size=2)
        fragment = other[y:y + 8, x:x + 8].astype(np.float32) * 0.45
        patch = background[top:top + 8, left:left + 8]
        np.maximum(patch, fragment, out=patch)
    sprite = cv2.resize(digit, (DIGIT, DIGIT), interpolation=cv2.INTER_AREA)
    length = CANVAS - DIGIT
    vertical, fast = divmod(motion, 2)
    velocity = SPEEDS[fast] * rng.choice((-1.0, 1.0))
    y0, x0 = rng.uniform(0, length, size=2)
    along = bounce(y0 if vertical else x0, velocity, num_frames, length)
    across = int(round(x0 if vertical else y0))
    frames = np.empty((num_frames, CANVAS, CANVAS), np.float32)
    for t in range(num_frames):
        y, x = (along[t], across) if vertical else (across, along[t])
        frame = background.copy()
        box = frame[y:y + DIGIT, x:x + DIGIT]
        np.maximum(box, sprite, out=box)
        frames[t] = frame
    frames += rng.normal(0.0, 6.0, size=frames.shape)
    gray = np.clip(frames, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=3)


def make_moving_digits(out: str,
                       train_per_class: int = 200,
                       test_per_class: int = 100,
                       num_frames: int = 16,
                       clutter: int = 3,
                       seed: int = 0) -> None:
    """Write the clips and annotation lists (skipped when complete).

    Args:
        out (str): output directory.
        train_per_class (int): train clips per digit class (at most 400).
            Defaults to 200.
        test_per_class (int): test clips per digit class (at most 100).
            Defaults to 100.
        num_frames (int): frames per clip. Defaults to 16.
        clutter (int): digit fragments in each background. Defaults to 3.
        seed (int): seed of the clips (the digit split is always MNIST-5k's,
            seed 0). Defaults to 0.
    """
    if all(osp.isfile(osp.join(out, f)) for f in LISTS):
        print(f'{out} is ready')
        return
    if not (1 <= train_per_class <= 400 and 1 <= test_per_class <= 100):
        raise ValueError(
            'train_per_class must be in [1, 400] and test_per_class in '
            f'[1, 100] (MNIST-5k has 400 train and 100 test digits of each '
            f'class); got {train_per_class} and {test_per_class}.')
    images, labels, train, test, _ = mnist_split()
    rng = np.random.default_rng(seed)
    start = time.time()
    lists = {}
    for split, pool, per_class in (('train', train, train_per_class),
                                   ('test', test, test_per_class)):
        # The first per_class digits of each class, in the split's order.
        chosen = np.concatenate(
            [pool[labels[pool] == c][:per_class] for c in range(10)])
        chosen = rng.permutation(chosen)
        motions = rng.permutation(np.arange(len(chosen)) % len(MOTIONS))
        os.makedirs(osp.join(out, 'videos', split), exist_ok=True)
        names = []
        for i, (index, motion) in enumerate(zip(chosen, motions)):
            name = f'{split}/{i:05d}.mp4'
            others = rng.choice(pool, size=clutter, replace=False)
            write_clip(
                osp.join(out, 'videos', name),
                moving_digit(images[index], int(motion), images[others], rng,
                             num_frames))
            names.append(name)
        digits = labels[chosen].astype(int)
        lists[f'{split}.txt'] = (names, digits)
        lists[f'{split}_motion.txt'] = (names, motions)
        if split == 'train':
            noisy = digits.copy()
            flip = rng.permutation(len(noisy))[:int(NOISE * len(noisy))]
            noisy[flip] = (noisy[flip] + rng.integers(1, 10, len(flip))) % 10
            lists['train_noisy40.txt'] = (names, noisy)
    for file, (names, values) in lists.items():
        atomic_save_text(
            osp.join(out, file),
            ''.join(f'{n} {int(v)}\n' for n, v in zip(names, values)))
    print(f'wrote {10 * (train_per_class + test_per_class)} clips to {out} '
          f'({10 * train_per_class} train / {10 * test_per_class} test) in '
          f'{time.time() - start:.0f}s')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/moving_digits')
    parser.add_argument('--train-per-class', type=int, default=200)
    parser.add_argument('--test-per-class', type=int, default=100)
    parser.add_argument('--num-frames', type=int, default=16)
    parser.add_argument('--clutter', type=int, default=3)
    args = parser.parse_args()
    make_moving_digits(args.out, args.train_per_class, args.test_per_class,
                       args.num_frames, args.clutter)


if __name__ == '__main__':
    main()
