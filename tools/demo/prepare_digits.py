# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Write scikit-learn's 1,797 handwritten digits as MNIST-shaped PNG files
with mmpretrain annotation lists: a *transfer* target for the demo's
models, which were pre-trained on MNIST.

The digits (UCI's "Optical Recognition of Handwritten Digits", 43 writers,
shipped inside the scikit-learn wheel) are another collection than MNIST:
8x8 images with 17 grey levels. Each is scaled to 0-255, enlarged to 20x20
(bilinear) and centred in a 28x28 frame, as MNIST's digits are.

Output (``--out``, default ``data/digits``)::

    images/0000.png ... images/1796.png
    train.txt   900 digits, 90 of each class
    test.txt    the other 897

The split is a fixed stratified permutation (seed 0).

Usage:
    python tools/demo/prepare_digits.py --out data/digits
"""
import argparse

import cv2
import numpy as np
from image_lists import lists_ready, write_image_lists
from sklearn.datasets import load_digits

TRAIN_PER_CLASS = 90
SIDE, FRAME = 20, 28


def mnist_shaped(image: np.ndarray) -> np.ndarray:
    """One 8x8 digit (grey levels 0-16) as a 28x28 uint8 MNIST-like image.

    Args:
        image (np.ndarray): (8, 8) values in [0, 16].

    Returns:
        np.ndarray: (28, 28) uint8, the digit enlarged to 20x20 in the
        centre.
    """
    scaled = (image.astype(np.float32) * (255 / 16)).clip(0, 255)
    big = cv2.resize(scaled, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
    frame = np.zeros((FRAME, FRAME), np.float32)
    pad = (FRAME - SIDE) // 2
    frame[pad:pad + SIDE, pad:pad + SIDE] = big
    return frame.round().astype(np.uint8)


def write_digits(out: str) -> None:
    """Write the images and annotation lists (skipped if complete).

    Args:
        out (str): output directory.
    """
    if lists_ready(out, ('train', 'test')):
        return
    digits = load_digits()
    rng = np.random.default_rng(0)
    train, test = [], []
    for label in range(10):
        members = rng.permutation(np.flatnonzero(digits.target == label))
        train += members[:TRAIN_PER_CLASS].tolist()
        test += members[TRAIN_PER_CLASS:].tolist()
    write_image_lists(
        out, (mnist_shaped(image) for image in digits.images),
        dict(
            train=(rng.permutation(train), digits.target),
            test=(rng.permutation(test), digits.target)))
    print(f'wrote {len(digits.images)} scikit-learn digits to {out} '
          f'({len(train)} train / {len(test)} test)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/digits')
    write_digits(parser.parse_args().out)


if __name__ == '__main__':
    main()
