# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Generate a dataset of another kind than digits: ten classes of drawn
shapes in MNIST's format (28x28, white on black), a transfer target for the
demo's MNIST-5k models.

Each image is one shape (filled or outlined circle, square, triangle and
diamond, a plus and an X) of random size (8-22 px), position, stroke width,
rotation (squares, triangles, diamonds; the X by 45 +- 20 degrees) and grey
level, on faint noise. Seeded: the same files on every machine.

Output (``--out``, default ``data/shapes``)::

    images/0000.png ... images/1999.png
    train.txt   1,000 shapes, 100 of each class
    test.txt    1,000 shapes, 100 of each class

Usage:
    python tools/demo/make_shapes.py --out data/shapes
"""
import argparse

import cv2
import numpy as np
from image_lists import lists_ready, write_image_lists

CLASSES = ('circle', 'ring', 'square', 'square-outline', 'triangle',
           'triangle-outline', 'diamond', 'diamond-outline', 'plus', 'x')
PER_CLASS = 100
SIZE = 28


def outline_of(name: str, center: np.ndarray, radius: float,
               angle: float) -> np.ndarray:
    """The integer vertices of a square, triangle or diamond (a square
    squashed to 55% along one diagonal), rotated by ``angle``."""
    if name == 'diamond':
        corners = np.array([[1, 0], [0, 0.55], [-1, 0], [0, -0.55]])
    else:
        sides = 4 if name == 'square' else 3
        turns = 2 * np.pi * np.arange(sides) / sides
        corners = np.stack([np.cos(turns), np.sin(turns)], 1)
    rotation = np.array([[np.cos(angle), -np.sin(angle)],
                         [np.sin(angle), np.cos(angle)]])
    return np.round(center + radius * corners @ rotation.T).astype(np.int32)


def draw(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 uint8 image of a shape of class ``kind``.

    Args:
        kind (str): one of :data:`CLASSES`.
        rng (np.random.Generator): the draws.

    Returns:
        np.ndarray: (28, 28) uint8.
    """
    img = rng.integers(0, 30, (SIZE, SIZE)).astype(np.uint8)
    radius = rng.uniform(4, 11)
    center = rng.uniform(3 + radius, SIZE - 3 - radius, 2)
    grey = int(rng.integers(150, 256))
    width = int(rng.integers(1, 4))
    angle = rng.uniform(0, 2 * np.pi)
    name, _, outline = kind.partition('-')
    if name in ('circle', 'ring'):
        cv2.circle(img, tuple(int(v) for v in np.round(center)),
                   int(round(radius)), grey, width if name == 'ring' else -1)
    elif name in ('square', 'triangle', 'diamond'):
        points = outline_of(name, center, radius, angle)
        if outline:
            cv2.polylines(img, [points], True, grey, width)
        else:
            cv2.fillPoly(img, [points], grey)
    else:  # plus (upright) and x (turned by 45 degrees +- 20): two strokes
        turn = 0.0 if name == 'plus' else np.pi / 4 + rng.uniform(-0.35, 0.35)
        for stroke in (turn, turn + np.pi / 2):
            step = radius * np.array([np.cos(stroke), np.sin(stroke)])
            ends = np.round([center - step, center + step]).astype(int)
            cv2.line(img, tuple(int(v) for v in ends[0]),
                     tuple(int(v) for v in ends[1]), grey, width + 1)
    return img


def write_shapes(out: str, seed: int = 0) -> None:
    """Write the images and annotation lists (skipped if complete).

    Args:
        out (str): output directory.
        seed (int): seed of the draws. Defaults to 0.
    """
    if lists_ready(out, ('train', 'test')):
        return
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(len(CLASSES)), 2 * PER_CLASS)
    half = len(labels) // 2
    write_image_lists(
        out, (draw(CLASSES[label], rng) for label in labels),
        dict(
            train=(range(half), labels),
            test=(range(half, len(labels)), labels)))
    print(f'wrote {len(labels)} shapes of {len(CLASSES)} classes to {out} '
          f'({half} train / {len(labels) - half} test)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/shapes')
    write_shapes(parser.parse_args().out)


if __name__ == '__main__':
    main()
