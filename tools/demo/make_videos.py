# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Generate short mp4 clips whose class is a motion direction.

A bright square with a random size, colour and start position moves right,
left, down or up over a noisy background; each clip is encoded with PyAV
(libx264). Output (``--out``, default ``data/moving_squares``)::

    videos/{right,left,down,up}/000.mp4 ...   (folder-per-class layout)
    train.txt / test.txt                      ("class/000.mp4 label" lists)
    train_axis.txt                            coarse weak labels of train.txt:
                                              0 horizontal, 1 vertical motion

Usage:
    python tools/demo/make_videos.py --out data/moving_squares --per-class 24
"""
import argparse
import os
import os.path as osp

import av
import numpy as np

from clusterfit_plugin.fileio import atomic_save_text

DIRECTIONS = {'right': (0, 1), 'left': (0, -1), 'down': (1, 0), 'up': (-1, 0)}


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


def moving_square(direction: str,
                  rng: np.random.Generator,
                  num_frames: int = 16,
                  size: int = 32) -> np.ndarray:
    """Frames of a square moving in ``direction``.

    Args:
        direction (str): a key of :data:`DIRECTIONS`.
        rng (np.random.Generator): randomness of the clip.
        num_frames (int): T. Defaults to 16.
        size (int): frame side. Defaults to 32.

    Returns:
        np.ndarray: (T, size, size, 3) uint8.
    """
    dy, dx = DIRECTIONS[direction]
    side = int(rng.integers(6, 11))
    speed = float(rng.uniform(0.8, 1.4))
    colour = rng.integers(150, 256, size=3)
    y0, x0 = rng.uniform(side, size - side, size=2)
    y0 -= dy * speed * num_frames / 2
    x0 -= dx * speed * num_frames / 2
    frames = rng.integers(0, 40, size=(num_frames, size, size, 3))
    for t in range(num_frames):
        y = int(np.clip(round(y0 + dy * speed * t), 0, size - side))
        x = int(np.clip(round(x0 + dx * speed * t), 0, size - side))
        frames[t, y:y + side, x:x + side] = colour
    return frames.astype(np.uint8)


def make_videos(out: str,
                per_class: int = 24,
                num_frames: int = 16,
                test_fraction: float = 0.25,
                seed: int = 0) -> None:
    """Write the clips and annotation lists (skipped when complete).

    Args:
        out (str): output directory.
        per_class (int): clips per direction. Defaults to 24.
        num_frames (int): frames per clip. Defaults to 16.
        test_fraction (float): share of each class in test.txt.
        seed (int): seed. Defaults to 0.
    """
    files = ('train.txt', 'test.txt', 'train_axis.txt')
    if all(osp.isfile(osp.join(out, f)) for f in files):
        print(f'{out} is ready')
        return
    rng = np.random.default_rng(seed)
    train, test, axis = [], [], []
    num_test = int(round(per_class * test_fraction))
    for label, direction in enumerate(DIRECTIONS):
        os.makedirs(osp.join(out, 'videos', direction), exist_ok=True)
        for i in range(per_class):
            name = f'{direction}/{i:03d}.mp4'
            write_clip(
                osp.join(out, 'videos', name),
                moving_square(direction, rng, num_frames))
            if i < num_test:
                test.append(f'{name} {label}\n')
            else:
                train.append(f'{name} {label}\n')
                axis.append(f'{name} {int(DIRECTIONS[direction][0] != 0)}\n')
    for split, lines in (('train', train), ('test', test), ('train_axis',
                                                            axis)):
        atomic_save_text(osp.join(out, f'{split}.txt'), ''.join(lines))
    print(f'wrote {len(train) + len(test)} clips to {out} '
          f'({len(train)} train / {len(test)} test)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/moving_squares')
    parser.add_argument('--per-class', type=int, default=24)
    parser.add_argument('--num-frames', type=int, default=16)
    args = parser.parse_args()
    make_videos(args.out, args.per_class, args.num_frames)


if __name__ == '__main__':
    main()
