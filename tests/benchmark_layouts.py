# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Tiny data in the official on-disk layout of each transfer benchmark of
configs/benchmarks/transfer/ (VOC's XML and ImageSets, Places205's lists,
iNaturalist's JSON, UCF101's and HMDB51's split files, the fine-grained
sets' lists and .mat files), under the config's own data root."""
import json
import os
import os.path as osp

import cv2
import mat4py
import numpy as np
from helpers import load_tool
from mmpretrain.datasets.categories import (FGVCAIRCRAFT_CATEGORIES,
                                            FOOD101_CATEGORIES,
                                            SUN397_CATEGORIES,
                                            VOC2007_CATEGORIES)

RNG = np.random.default_rng(0)


def image(path: str, size: int = 32) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, RNG.integers(0, 256, (size, size, 3), dtype=np.uint8))


def lines(path: str, rows) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(f'{row}\n' for row in rows)


def voc(root: str) -> None:
    """40 trainval and 20 test images; each class present in at least 3
    trainval images; some objects difficult."""
    for split, ids in (('trainval', range(40)), ('test', range(40, 60))):
        names = [f'{i:06d}' for i in ids]
        lines(osp.join(root, 'ImageSets', 'Main', f'{split}.txt'), names)
        for i, name in zip(ids, names):
            image(osp.join(root, 'JPEGImages', f'{name}.jpg'))
            objects = [(i % 20, 0), ((i + 7) % 20, 0)]
            if i % 5 == 0:
                objects.append(((i + 3) % 20, 1))
            body = ''.join(f'<object><name>{VOC2007_CATEGORIES[c]}</name>'
                           f'<difficult>{d}</difficult></object>'
                           for c, d in objects)
            lines(
                osp.join(root, 'Annotations', f'{name}.xml'),
                [f'<annotation>{body}</annotation>'])


def imagenet(root: str) -> None:
    for split in ('train', 'val'):
        rows = []
        for i in range(12):
            name = f'{i}.JPEG' if split == 'val' else f'n{i % 3:08d}/{i}.JPEG'
            image(osp.join(root, split, name))
            rows.append(f'{name} {i % 3}')
        lines(osp.join(root, 'meta', f'{split}.txt'), rows)


def places205(root: str) -> None:
    for split in ('train', 'val'):
        rows = []
        for i in range(12):
            name = f'a/{"abbey" if i % 2 else "airport"}/{split}{i}.jpg'
            image(osp.join(root, 'images256', name))
            rows.append(f'{name} {i % 2}')
        lines(
            osp.join(root, 'trainvalsplit_places205',
                     f'{split}_places205.csv'), rows)


def inat2018(root: str) -> None:
    for split in ('train', 'val'):
        images, annotations = [], []
        for i in range(12):
            name = f'train_val2018/Plantae/{i % 3}/{split}{i}.jpg'
            image(osp.join(root, name))
            images.append(dict(id=100 + i, file_name=name))
            annotations.append(dict(image_id=100 + i, category_id=7 + i % 3))
        with open(osp.join(root, f'{split}2018.json'), 'w') as f:
            json.dump(
                dict(
                    images=images,
                    annotations=annotations,
                    categories=[dict(id=c) for c in (7, 8, 9)]), f)


def food101(root: str) -> None:
    for split in ('train', 'test'):
        rows = []
        for i in range(12):
            cls = FOOD101_CATEGORIES[i % 3]
            image(osp.join(root, 'images', cls, f'{split}{i}.jpg'))
            rows.append(f'{cls}/{split}{i}')
        lines(osp.join(root, 'meta', f'{split}.txt'), rows)


def oxford_pets(root: str) -> None:
    for split in ('trainval', 'test'):
        rows = []
        for i in range(12):
            image(osp.join(root, 'images', f'{split}_{i}.jpg'))
            rows.append(f'{split}_{i} {i % 3 + 1} 1 1')
        lines(osp.join(root, 'annotations', f'{split}.txt'), rows)


def cub(root: str) -> None:
    images, labels, splits = [], [], []
    for i in range(1, 25):
        name = f'{i % 3 + 1:03d}.Bird/{i}.jpg'
        image(osp.join(root, 'images', name))
        images.append(f'{i} {name}')
        labels.append(f'{i} {i % 3 + 1}')
        splits.append(f'{i} {int(i <= 12)}')
    lines(osp.join(root, 'images.txt'), images)
    lines(osp.join(root, 'image_class_labels.txt'), labels)
    lines(osp.join(root, 'train_test_split.txt'), splits)


def fgvc_aircraft(root: str) -> None:
    for split in ('trainval', 'test'):
        rows = []
        for i in range(12):
            name = f'{split}{i}'
            image(osp.join(root, 'data', 'images', f'{name}.jpg'))
            rows.append(f'{name} {FGVCAIRCRAFT_CATEGORIES[i % 3]}')
        lines(osp.join(root, 'data', f'images_variant_{split}.txt'), rows)


def caltech101(root: str) -> None:
    for split in ('train', 'test'):
        rows = []
        for i in range(12):
            name = f'class{i % 3}/{split}{i}.jpg'
            image(osp.join(root, '101_ObjectCategories', name))
            rows.append(f'{name} {i % 3}')
        lines(osp.join(root, 'meta', f'{split}.txt'), rows)


def sun397(root: str) -> None:
    for split, part in (('train', 'Training_01'), ('test', 'Testing_01')):
        rows = []
        for i in range(12):
            cls = SUN397_CATEGORIES[i % 3]
            name = f'/{cls[0]}/{cls}/{split}{i}.jpg'
            image(osp.join(root, 'SUN397', name[1:]))
            rows.append(name)
        lines(osp.join(root, 'Partitions', f'{part}.txt'), rows)


def dtd(root: str) -> None:
    names, classes, sets = [], [], []
    for i in range(24):
        name = f'class{i % 3}/{i}.jpg'
        image(osp.join(root, 'images', name))
        names.append(name)
        classes.append(i % 3 + 1)
        sets.append(1 if i < 8 else 2 if i < 12 else 3)
    os.makedirs(osp.join(root, 'imdb'), exist_ok=True)
    mat4py.savemat(
        osp.join(root, 'imdb', 'imdb.mat'),
        dict(images=dict(name=names, **{
            'class': classes,
            'set': sets
        })))


def flowers102(root: str) -> None:
    for i in range(1, 25):
        image(osp.join(root, 'jpg', f'image_{i:05d}.jpg'))
    mat4py.savemat(
        osp.join(root, 'imagelabels.mat'),
        dict(labels=[i % 3 + 1 for i in range(1, 25)]))
    mat4py.savemat(
        osp.join(root, 'setid.mat'),
        dict(
            trnid=list(range(1, 9)),
            valid=list(range(9, 13)),
            tstid=list(range(13, 25))))


def stanford_cars(root: str) -> None:
    paths = [f'car_ims/{i:06d}.jpg' for i in range(24)]
    for path in paths:
        image(osp.join(root, path))
    mat4py.savemat(
        osp.join(root, 'cars_annos.mat'),
        dict(
            annotations=dict(
                relative_im_path=paths,
                test=[int(i >= 12) for i in range(24)],
                **{'class': [i % 3 + 1 for i in range(24)]})))


def clip(path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    load_tool('demo/make_moving_digits').write_clip(
        path, RNG.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8))


def ucf101(root: str) -> None:
    classes = ['ApplyEyeMakeup', 'Archery', 'Basketball']
    lines(
        osp.join(root, 'ucfTrainTestlist', 'classInd.txt'),
        [f'{i + 1} {c}' for i, c in enumerate(classes)])
    videos = [(c, f'v_{c}_g{g:02d}_c01.avi') for c in classes
              for g in range(1, 9)]
    for cls, name in videos:
        clip(osp.join(root, 'UCF-101', cls, name))
    for split in (1, 2, 3):
        train = [v for i, v in enumerate(videos) if (i + split) % 4]
        test = [v for i, v in enumerate(videos) if not (i + split) % 4]
        lines(
            osp.join(root, 'ucfTrainTestlist', f'trainlist0{split}.txt'),
            [f'{c}/{n} {classes.index(c) + 1}' for c, n in train])
        lines(
            osp.join(root, 'ucfTrainTestlist', f'testlist0{split}.txt'),
            [f'{c}/{n}' for c, n in test])


def hmdb51(root: str) -> None:
    classes = ['brush_hair', 'cartwheel', 'catch']
    for cls in classes:
        names = [f'{cls}_{i}.avi' for i in range(10)]
        for name in names:
            clip(osp.join(root, 'videos', cls, name))
        for split in (1, 2, 3):
            roles = [1, 1, 2, 0, 1, 1, 1, 2, 1, 1]
            roles = roles[split:] + roles[:split]
            lines(
                osp.join(root, 'testTrainMulti_7030_splits',
                         f'{cls}_test_split{split}.txt'),
                [f'{n} {r}' for n, r in zip(names, roles)])


# Benchmark config -> the writer of its layout.
WRITERS = {
    'voc07_svm': voc,
    'voc07_low-shot_svm': voc,
    'in1k_linear': imagenet,
    'places205_linear': places205,
    'inat2018_linear': inat2018,
    'food101_linear': food101,
    'oxford-pets_linear': oxford_pets,
    'cub_linear': cub,
    'fgvc-aircraft_linear': fgvc_aircraft,
    'caltech101_linear': caltech101,
    'sun397_linear': sun397,
    'dtd_linear': dtd,
    'flowers102_linear': flowers102,
    'stanford-cars_linear': stanford_cars,
    **{
        f'ucf101-split{s}_linear': ucf101
        for s in (1, 2, 3)
    },
    **{
        f'hmdb51-split{s}_linear': hmdb51
        for s in (1, 2, 3)
    },
}
