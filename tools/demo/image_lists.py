# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What the image-data generators of the demo share: PNG files under
``images/`` and mmpretrain annotation lists (``images/NNNN.png label``),
written once and skipped when complete."""
import os
import os.path as osp
from typing import Dict, Iterable, Sequence, Tuple

import cv2
import numpy as np

from clusterfit_plugin.fileio import atomic_save_text


def lists_ready(out: str, splits: Sequence[str]) -> bool:
    """Whether every annotation list ``{out}/{split}.txt`` exists (they are
    written last, atomically: the images before them are complete).

    Args:
        out (str): the dataset folder.
        splits (Sequence[str]): the split names.

    Returns:
        bool: True if the dataset is complete.
    """
    ready = all(osp.isfile(osp.join(out, f'{s}.txt')) for s in splits)
    if ready:
        print(f'{out} is ready')
    return ready


def write_image_lists(out: str,
                      images: Iterable[np.ndarray],
                      splits: Dict[str, Tuple[Sequence[int], np.ndarray]],
                      name: str = 'images/{:04d}.png') -> None:
    """Write the images, in order, then one annotation list per split.

    Args:
        out (str): the dataset folder.
        images (Iterable[np.ndarray]): uint8 images; image ``i`` is written
            to ``name.format(i)``.
        splits (dict): split name -> (its image indices in list order, the
            labels of all images).
        name (str): the file name pattern. Defaults to
            ``'images/{:04d}.png'``.
    """
    os.makedirs(osp.join(out, osp.dirname(name)), exist_ok=True)
    for i, image in enumerate(images):
        cv2.imwrite(osp.join(out, name.format(i)), image)
    for split, (members, labels) in splits.items():
        atomic_save_text(
            osp.join(out, f'{split}.txt'),
            ''.join(f'{name.format(i)} {int(labels[i])}\n' for i in members))
