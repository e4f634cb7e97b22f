# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Extraction: the hook's extractor vs a bare torch.inference_mode() loop.

Both run the same model (mmpretrain ResNet, eval mode) on the same device
over the same DataLoader construction (the same images, pipeline, batch size,
workers and pinned memory), with the same autocast and memory format; the
bare loop only preprocesses, runs the backbone and pools. Prints images per
second of each, their ratio (best of ``--repeats`` runs, in alternating
order), the two ceilings of any extractor (the DataLoader alone, and the
backbone alone on one preprocessed batch) and the relative difference of the
two feature matrices.

Usage:
    python tools/benchmarks/extraction.py --num-images 1024 --size 64
    # on a GPU: ResNet-50 at 224 px, fp32 vs AMP + channels-last
    python tools/benchmarks/extraction.py --depth 50 --size 224 \
        --num-images 12288 --batch-size 128 --num-workers 14 --ext .jpg
    python tools/benchmarks/extraction.py --depth 50 --size 224 \
        --num-images 12288 --batch-size 128 --num-workers 14 --ext .jpg \
        --amp --channels-last
"""
import argparse
import tempfile
import time

import numpy as np
import torch
from common import write_images
from mmengine.dataset import default_collate
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.utils import register_all_modules
from torch.utils.data import DataLoader

import clusterfit_plugin  # noqa: F401
from clusterfit_plugin.engine.extractor import ExtractionSet, extract_features

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def make_loader(dataset, indices, args):
    return DataLoader(
        ExtractionSet(dataset, PIPELINE, indices),
        batch_size=args.batch_size,
        shuffle=False,
        num_workers=args.num_workers,
        collate_fn=default_collate,
        pin_memory=args.device == 'cuda')


def preprocess(model, data, args):
    inputs = model.data_preprocessor(data, False)['inputs']
    if args.channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs


def bare_loop(model, dataset, indices, args):
    out = []
    with torch.inference_mode(), torch.autocast(
            device_type='cuda', enabled=args.amp):
        for data in make_loader(dataset, indices, args):
            feats = model.backbone(preprocess(model, data, args))[-1].mean(
                (2, 3))
            out.append(feats.float().cpu().numpy())
    return np.concatenate(out)


def loader_only(dataset, indices, args):
    for _ in make_loader(dataset, indices, args):
        pass


def model_only(model, batch, num_images, args):
    """The backbone alone on one preprocessed batch, as many images."""
    with torch.inference_mode(), torch.autocast(
            device_type='cuda', enabled=args.amp):
        inputs = preprocess(model, batch, args)
        for _ in range(0, num_images, inputs.shape[0]):
            model.backbone(inputs)
    if args.device == 'cuda':
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=1024)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--depth', type=int, default=18)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--ext', default='.png', choices=['.png', '.jpg'])
    parser.add_argument(
        '--device',
        default=None,
        help='cuda or cpu (default: cuda when available)')
    parser.add_argument(
        '--amp', action='store_true', help='autocast on CUDA, in both loops')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='channels-last on CUDA, in both loops')
    args = parser.parse_args()
    args.device = args.device or ('cuda'
                                  if torch.cuda.is_available() else 'cpu')
    if args.device != 'cuda' and (args.amp or args.channels_last):
        parser.error('--amp and --channels-last act on CUDA only')
    register_all_modules(init_default_scope=True)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet', depth=args.depth),
            data_preprocessor=dict(
                mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])))
    model.to(args.device).eval()
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    with tempfile.TemporaryDirectory() as root:
        write_images(root, args.num_images, args.size, args.ext)
        dataset = DATASETS.build(
            dict(
                type='CustomDataset',
                data_root=root,
                ann_file='ann.txt',
                pipeline=PIPELINE))
        indices = np.arange(len(dataset))
        best = dict.fromkeys(
            ('plugin', 'bare loop', 'loader only', 'model only'), float('inf'))
        batch = next(iter(make_loader(dataset, indices, args)))
        runs = {
            'plugin':
            lambda: extract_features(
                model,
                dataset,
                PIPELINE,
                indices,
                'backbone',
                batch_size=args.batch_size,
                num_workers=args.num_workers,
                amp=args.amp,
                channels_last=args.channels_last,
                progress=False),
            'bare loop':
            lambda: bare_loop(model, dataset, indices, args),
            'loader only':
            lambda: loader_only(dataset, indices, args),
            'model only':
            lambda: model_only(model, batch, args.num_images, args),
        }
        features = {}
        for repeat in range(args.repeats):
            # Alternate the order so that neither loop always runs first.
            for name in sorted(runs, reverse=repeat % 2 == 1):
                start = time.perf_counter()
                features[name] = runs[name]()
                best[name] = min(best[name], time.perf_counter() - start)
        ours, bare = features['plugin'], features['bare loop']
    device = (
        torch.cuda.get_device_name()
        if args.device == 'cuda' else f'CPU, {torch.get_num_threads()} '
        'threads')
    print(f'ResNet-{args.depth}, {args.num_images} {args.ext} images of '
          f'{args.size}px, batch {args.batch_size}, {args.num_workers} '
          f'workers, {device}, amp={args.amp}, '
          f'channels_last={args.channels_last}, best of {args.repeats}')
    for name, seconds in best.items():
        print(f'{name:<12} {args.num_images / seconds:8.1f} images/s')
    print(f'plugin / bare loop throughput: '
          f'{best["bare loop"] / best["plugin"]:.3f}')
    diff = np.linalg.norm(ours - bare) / np.linalg.norm(bare)
    print(f'features: relative difference plugin vs bare loop {diff:.2e}')
    if diff > (1e-2 if args.amp else 1e-4):
        raise SystemExit('the two loops computed different features')


if __name__ == '__main__':
    main()
