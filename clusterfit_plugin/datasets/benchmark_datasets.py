# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Transfer benchmarks read from their official files: iNaturalist 2018's
JSON lists, UCF101's ``ucfTrainTestlist`` and HMDB51's
``testTrainMulti_7030_splits`` (mmpretrain has no class for them; mmaction2
reads lists made from these by its own scripts)."""
import json
import os
import os.path as osp
from typing import List, Optional

from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .video_dataset import VideoDataset


def _read_lines(path: str, what: str) -> List[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what}: {path} does not exist.')
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


@DATASETS.register_module()
class INaturalist(BaseDataset):
    """iNaturalist (2017-2021) from its JSON lists (``train2018.json``,
    ``val2018.json``): COCO-style ``images`` (``id``, ``file_name``),
    ``annotations`` (``image_id``, ``category_id``) and ``categories``.

    Args:
        ann_file (str): the JSON list, relative to ``data_root``.
        data_root (str): the dataset's folder; ``file_name`` is relative to
            it (``train_val2018/Plantae/...``).
        **kwargs: the rest of mmpretrain's ``BaseDataset``.
    """

    def load_data_list(self) -> List[dict]:
        """One info per image, the label its category's place in the
        sorted category ids."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'INaturalist ann_file {self.ann_file} does not exist.')
        with open(self.ann_file, encoding='utf-8') as f:
            content = json.load(f)
        try:
            categories = sorted(c['id'] for c in content['categories'])
            label_of = {
                a['image_id']: a['category_id']
                for a in content['annotations']
            }
            images = content['images']
        except (KeyError, TypeError) as err:
            raise ValueError(
                f'{self.ann_file} is not an iNaturalist list (images, '
                f'annotations, categories): missing {err}.') from err
        index = {cid: i for i, cid in enumerate(categories)}
        self._metainfo.setdefault('classes',
                                  tuple(str(cid) for cid in categories))
        data_list = []
        for image in images:
            info = dict(img_path=osp.join(self.data_root, image['file_name']))
            if image['id'] in label_of:
                info['gt_label'] = index[label_of[image['id']]]
            data_list.append(info)
        return data_list


class SplitVideoDataset(VideoDataset):
    """Videos of one subset of an official split (1, 2 or 3), read from the
    dataset's own split files in ``split_dir``.

    Args:
        split (int): 1, 2 or 3.
        subset (str): ``'train'`` or ``'test'``.
        split_dir (str, optional): the folder of the split files, relative
            to ``data_root``; None: the dataset's own name for it.
        **kwargs: the rest of :class:`VideoDataset`.
    """

    SPLIT_DIR = ''

    def __init__(self,
                 split: int = 1,
                 subset: str = 'train',
                 split_dir: Optional[str] = None,
                 **kwargs):
        if split not in (1, 2, 3) or subset not in ('train', 'test'):
            raise ValueError(
                f'{type(self).__name__} split={split!r} subset={subset!r}: '
                "use split 1, 2 or 3 and subset 'train' or 'test'.")
        self.split, self.subset = split, subset
        self.split_dir = split_dir or self.SPLIT_DIR
        super().__init__(**kwargs)


@DATASETS.register_module()
class UCF101(SplitVideoDataset):
    """UCF101 from its official split files: ``classInd.txt`` (``1
    ApplyEyeMakeup``) and ``trainlist0{split}.txt`` /
    ``testlist0{split}.txt`` (``ApplyEyeMakeup/v_..._g08_c01.avi``) in
    ``ucfTrainTestlist``; ``data_prefix`` is the videos' folder
    (``UCF-101``). Arguments: :class:`SplitVideoDataset`.
    """

    SPLIT_DIR = 'ucfTrainTestlist'

    def load_data_list(self) -> List[dict]:
        """One info per listed video, labelled from ``classInd.txt``."""
        folder = osp.join(self.data_root, self.split_dir)
        classes = {}
        for line in _read_lines(
                osp.join(folder, 'classInd.txt'), 'UCF101 classes'):
            number, name = line.split()
            classes[name] = int(number) - 1
        self._metainfo.setdefault('classes',
                                  tuple(sorted(classes, key=classes.get)))
        prefix = self.data_prefix.get('video_path', '')
        data_list = []
        for line in _read_lines(
                osp.join(folder, f'{self.subset}list0{self.split}.txt'),
                f'UCF101 split {self.split}'):
            path = line.split()[0]
            data_list.append(
                dict(
                    video_path=osp.join(prefix, path),
                    gt_label=classes[path.split('/')[0]]))
        return data_list


@DATASETS.register_module()
class HMDB51(SplitVideoDataset):
    """HMDB51 from its official splits: ``{class}_test_split{split}.txt``
    in ``testTrainMulti_7030_splits``, each line ``video.avi N`` with N 1
    for train, 2 for test and 0 for neither; the classes are the files'
    names, sorted; ``data_prefix`` is the videos' folder (one sub-folder
    per class). Arguments: :class:`SplitVideoDataset`.
    """

    SPLIT_DIR = 'testTrainMulti_7030_splits'

    def load_data_list(self) -> List[dict]:
        """One info per video of the subset, classes in sorted order."""
        folder = osp.join(self.data_root, self.split_dir)
        suffix = f'_test_split{self.split}.txt'
        if not osp.isdir(folder):
            raise FileNotFoundError(f'HMDB51 splits: {folder} does not exist.')
        classes = sorted(f[:-len(suffix)] for f in os.listdir(folder)
                         if f.endswith(suffix))
        if not classes:
            raise FileNotFoundError(f'HMDB51: no *{suffix} in {folder}.')
        self._metainfo.setdefault('classes', tuple(classes))
        wanted = '1' if self.subset == 'train' else '2'
        prefix = self.data_prefix.get('video_path', '')
        data_list = []
        for label, name in enumerate(classes):
            for line in _read_lines(
                    osp.join(folder, name + suffix), 'HMDB51 split'):
                video, role = line.split()
                if role == wanted:
                    data_list.append(
                        dict(
                            video_path=osp.join(prefix, name, video),
                            gt_label=label))
        return data_list
