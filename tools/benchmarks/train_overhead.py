# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Training throughput of a ClusterFit recipe against stock mmpretrain.

Issue 30, item 3. On generated data in the recipe's own layout (ImageNet's
``meta/train.txt`` and JPEG folders, or Kinetics-400's video list and mp4
clips), in the same run:

- ``clusterfit``: the recipe as shipped through ``tools/train.py``, with
  only data paths, batch size, workers, epochs and K changed (by
  ``--cfg-options`` and ``--num-clusters``) and a randomly initialised
  source checkpoint where the recipe names one;
- ``stock``: the same config with mmpretrain's own ``LinearClsHead`` over
  the same K classes in place of ``ClusterFitHead``, no ClusterFit hook and
  the plain dataset (its list's labels) in place of ``ClusterFitDataset``:
  what a user trains without the plugin.

Each pair runs with AMP (``--amp``) and ``ChannelsLastHook`` on and off
(``--variants``). Throughput is samples per second of training, from the
Runner's own per-iteration ``time`` (its ``scalars.json``), leaving out the
first ``--warmup`` iterations; the plugin's overhead is
``1 - clusterfit / stock``. Its clustering (extraction and k-means, from
the manifest) is reported apart: it runs once before training.

Usage (a GPU machine; ``--dry-run`` is the tiny CPU version the tests run):
    python tools/benchmarks/train_overhead.py image --iters 200
    python tools/benchmarks/train_overhead.py video --iters 100
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', 'demo'))
from make_moving_digits import write_clip  # noqa: E402

import clusterfit_plugin  # noqa: E402,F401
from clusterfit_plugin.engine.source import build_source_model  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECIPES = dict(
    image='configs/clusterfit_r50.py',
    video='configs/clusterfit_r2plus1d_34.py')
VARIANTS = dict(
    fp32=(False, False),
    amp=(True, False),
    channels_last=(False, True),
    amp_channels_last=(True, True))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('kind', choices=sorted(RECIPES))
    parser.add_argument('--iters', type=int, default=200)
    parser.add_argument('--batch-size', type=int, help='default: the recipe')
    parser.add_argument('--num-clusters', type=int, default=100)
    parser.add_argument('--workers', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=20)
    parser.add_argument(
        '--variants',
        nargs='+',
        choices=sorted(VARIANTS),
        default=sorted(VARIANTS))
    parser.add_argument('--work-dir', default='work_dirs/train_overhead')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='tiny sizes on the CPU: 2 iterations of batch 2, small images '
        'and clips, fp32 only; checks that every step runs, measures '
        'nothing')
    return parser.parse_args()


def write_lines(path: str, lines) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(f'{line}\n' for line in lines)


def make_imagenet(root: str, num_files: int, num_listed: int, size: int,
                  num_classes: int) -> dict:
    """``num_files`` random JPEGs listed ``num_listed`` times in all, in
    mmpretrain's ImageNet layout; returns the recipe's data options."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(num_files):
        name = f'n{i % num_classes:08d}/{i}.JPEG'
        path = osp.join(root, 'train', name)
        if not osp.exists(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path,
                        rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        names.append(name)
    write_lines(
        osp.join(root, 'meta', 'train.txt'), [
            f'{names[i % num_files]} {i % num_classes}'
            for i in range(num_listed)
        ])
    return {'train_dataloader.dataset.dataset.data_root': root}


def make_kinetics(root: str, num_files: int, num_listed: int, size: int,
                  num_frames: int, num_classes: int) -> dict:
    """``num_files`` random mp4 clips listed ``num_listed`` times in all,
    in mmaction2's Kinetics-400 layout; returns the recipe's data
    options."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(num_files):
        name = f'{i}.mp4'
        path = osp.join(root, 'videos_train', name)
        if not osp.exists(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            write_clip(
                path,
                rng.integers(
                    0,
                    256, (num_frames, size, size * 4 // 3 // 2 * 2, 3),
                    dtype=np.uint8))
        names.append(name)
    write_lines(
        osp.join(root, 'kinetics400_train_list_videos.txt'), [
            f'{names[i % num_files]} {i % num_classes}'
            for i in range(num_listed)
        ])
    return {'train_dataloader.dataset.dataset.data_root': root}


def random_source(cfg: Config, path: str) -> None:
    """A randomly initialised checkpoint for the recipe's source."""
    hook = next(h for h in cfg.custom_hooks if h.type == 'ClusterFitHook')
    if osp.exists(path):
        return
    torch.manual_seed(0)
    model = build_source_model(
        dict(hook.source, checkpoint=None, init='random', init_seed=0))
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(dict(state_dict=model.state_dict()), path)


def stock_config(recipe: str, out: str, num_classes: int) -> str:
    """The recipe with mmpretrain's own head, dataset and no plugin hook,
    written to ``out``."""
    cfg = Config.fromfile(recipe)
    head = cfg.model.head
    cfg.model.head = dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=head.in_channels,
        loss=head.loss,
        topk=head.topk)
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks', []) if h.type != 'ClusterFitHook'
    ]
    cfg.train_dataloader.dataset = cfg.train_dataloader.dataset.dataset
    if 'num_classes' in cfg.get('data_preprocessor', {}):
        cfg.data_preprocessor.num_classes = num_classes
    cfg.dump(out)
    return out


def with_channels_last(config: str, work_dir: str) -> str:
    """``config`` with ``ChannelsLastHook`` added to its hooks, written to
    ``work_dir``."""
    cfg = Config.fromfile(config)
    cfg.custom_hooks = list(cfg.get('custom_hooks',
                                    [])) + [dict(type='ChannelsLastHook')]
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'config.py')
    cfg.dump(path)
    return path


def throughput(work_dir: str, batch_size: int, warmup: int) -> float:
    """Samples per second of training from the Runner's scalars.json."""
    found = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    times = []
    with open(found[-1]) as f:
        for line in f:
            entry = json.loads(line)
            if 'time' in entry and entry.get('iter', 0) > warmup:
                times.append(entry['time'])
    if not times:
        raise RuntimeError(f'{work_dir}: no iteration after the first '
                           f'{warmup} was logged; raise --iters.')
    return batch_size / float(np.mean(times))


def train(config: str, work_dir: str, options: dict, extra: list,
          log_interval: int) -> float:
    """``tools/train.py`` in a new process; returns its wall time."""
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', work_dir
    ] + extra + ['--cfg-options'] + [
        f'{k}={v}' for k, v in options.items()
    ] + [f'default_hooks.logger.interval='
         f'{log_interval}']
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{done.stdout[-3000:]}'
                           f'\n{done.stderr[-3000:]}')
    return time.perf_counter() - start


def main():
    args = parse_args()
    recipe = osp.join(ROOT, RECIPES[args.kind])
    cfg = Config.fromfile(recipe)
    batch = args.batch_size or cfg.train_dataloader.batch_size
    iters, warmup, workers = args.iters, args.warmup, args.workers
    variants = args.variants
    if args.dry_run:
        batch, iters, warmup, workers = 2, 2, 0, 0
        variants = ['fp32']
    k = 2 if args.dry_run else args.num_clusters
    data = osp.abspath(osp.join(args.work_dir, 'data'))
    num_listed = batch * iters
    if args.kind == 'image':
        options = make_imagenet(
            osp.join(data, 'imagenet'), min(num_listed, 512), num_listed,
            64 if args.dry_run else 256, k)
    else:
        options = make_kinetics(
            osp.join(data, 'kinetics400'), min(num_listed, 64), num_listed,
            120 if args.dry_run else 240, 36, k)
    hook = next(i for i, h in enumerate(cfg.custom_hooks)
                if h.type == 'ClusterFitHook')
    source = osp.join(data, 'source.pth')
    random_source(cfg, source)
    options.update({
        'train_dataloader.batch_size': batch,
        'train_dataloader.num_workers': workers,
        'train_dataloader.persistent_workers': workers > 0,
        'train_cfg.max_epochs': 1,
    })
    plugin_options = dict(options)
    plugin_options.update({
        f'custom_hooks.{hook}.source.checkpoint': source,
        f'custom_hooks.{hook}.num_workers': workers,
        f'custom_hooks.{hook}.batch_size': batch * 2,
    })
    stock_options = {
        key.replace('dataset.dataset.', 'dataset.'): value
        for key, value in options.items()
    }
    os.makedirs(args.work_dir, exist_ok=True)
    stock = stock_config(recipe, osp.join(args.work_dir, 'stock.py'), k)
    print(f'{args.kind}: {osp.relpath(recipe, ROOT)} against stock '
          f'mmpretrain, {iters} iterations of {batch}, K={k}, on ' +
          (torch.cuda.get_device_name() if torch.cuda.is_available(
          ) else 'the CPU') + (' (dry run)' if args.dry_run else ''))
    print('| variant | stock (samples/s) | clusterfit (samples/s) | overhead '
          '| clustering before training (s) |')
    print('| --- | ---: | ---: | ---: | ---: |')
    for name in variants:
        amp, channels_last = VARIANTS[name]
        runs = {}
        for who, config, opts in (('stock', stock, stock_options),
                                  ('clusterfit', recipe, plugin_options)):
            work = osp.join(args.work_dir, name, who)
            extra = (['--amp'] if amp else []) + (
                ['--num-clusters', str(k)] if who == 'clusterfit' else [])
            train(
                with_channels_last(config, work) if channels_last else config,
                work, opts, extra, max(1, min(10, iters // 10)))
            runs[who] = throughput(work, batch, warmup)
        with open(
                glob.glob(
                    osp.join(args.work_dir, name, 'clusterfit', 'clusterfit',
                             'manifest.json'))[0]) as f:
            timings = json.load(f)['timings']
        overhead = 1 - runs['clusterfit'] / runs['stock']
        print(
            f'| {name} | {runs["stock"]:.1f} | {runs["clusterfit"]:.1f} | '
            f'{100 * overhead:+.1f}% | '
            f'{timings["extract_s"] + timings["kmeans_total_s"]:.1f} |',
            flush=True)


if __name__ == '__main__':
    main()
