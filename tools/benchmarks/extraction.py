"""Extraction: the hook's extractor vs a bare torch.inference_mode() loop.

Both run the same model (mmpretrain ResNet, eval mode) over the same
DataLoader construction (the same images, pipeline, batch size and workers);
the bare loop only preprocesses, runs the backbone and pools. Prints images
per second of each and their ratio (best of ``--repeats`` alternating runs).

Usage:
    python tools/benchmarks/extraction.py --num-images 1024 --size 64
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

import cv2
import numpy as np
import torch

HERE = osp.dirname(osp.abspath(__file__))
sys.path[:0] = [HERE, osp.dirname(osp.dirname(HERE))]
import clusterfit_plugin  # noqa: E402,F401
from clusterfit_plugin.engine.extractor import (ExtractionSet,  # noqa: E402
                                                extract_features)
from mmengine.dataset import default_collate  # noqa: E402
from mmpretrain.registry import DATASETS, MODELS  # noqa: E402
from mmpretrain.utils import register_all_modules  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def write_images(root: str, num: int, size: int) -> None:
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'img'))
    with open(osp.join(root, 'ann.txt'), 'w') as f:
        for i in range(num):
            img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            cv2.imwrite(osp.join(root, 'img', f'{i}.png'), img)
            f.write(f'img/{i}.png 0\n')


def bare_loop(model, dataset, indices, batch_size, num_workers):
    loader = DataLoader(
        ExtractionSet(dataset, PIPELINE, indices), batch_size=batch_size,
        shuffle=False, num_workers=num_workers, collate_fn=default_collate)
    out = []
    with torch.inference_mode():
        for data in loader:
            inputs = model.data_preprocessor(data, False)['inputs']
            out.append(model.backbone(inputs)[-1].mean((2, 3)).numpy())
    return np.concatenate(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=1024)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--depth', type=int, default=18)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    register_all_modules(init_default_scope=True)
    model = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='ResNet', depth=args.depth),
             data_preprocessor=dict(mean=[123.675, 116.28, 103.53],
                                    std=[58.395, 57.12, 57.375]))).eval()
    with tempfile.TemporaryDirectory() as root:
        write_images(root, args.num_images, args.size)
        dataset = DATASETS.build(
            dict(type='CustomDataset', data_root=root, ann_file='ann.txt',
                 pipeline=PIPELINE))
        indices = np.arange(len(dataset))
        best = {'plugin': float('inf'), 'bare loop': float('inf')}
        for _ in range(args.repeats):
            start = time.perf_counter()
            ours = extract_features(model, dataset, PIPELINE, indices,
                                    'backbone', batch_size=args.batch_size,
                                    num_workers=args.num_workers,
                                    progress=False)
            best['plugin'] = min(best['plugin'], time.perf_counter() - start)
            start = time.perf_counter()
            bare = bare_loop(model, dataset, indices, args.batch_size,
                             args.num_workers)
            best['bare loop'] = min(best['bare loop'],
                                    time.perf_counter() - start)
        np.testing.assert_allclose(ours, bare, rtol=1e-4, atol=1e-5)
    print(f'ResNet-{args.depth}, {args.num_images} images of {args.size}px, '
          f'batch {args.batch_size}, {args.num_workers} workers, '
          f'{torch.get_num_threads()} threads, best of {args.repeats}')
    for name, seconds in best.items():
        print(f'{name:<10} {args.num_images / seconds:8.1f} images/s')
    print(f'plugin / bare loop throughput: '
          f'{best["bare loop"] / best["plugin"]:.3f}')


if __name__ == '__main__':
    main()
