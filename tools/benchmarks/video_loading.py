# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Is decoding the bottleneck of video training? Clips/s of the plugin's
readers in the training loader against clips/s of the training step.

On the moving-digit data and the video ClusterFit config:

- the training step of the config's model (data preprocessing, forward,
  loss, backward, SGD step) on one batch held in memory: the baseline;
- the train DataLoader alone (the config's train pipeline: open, sample 8
  frames, decode, random resized crop, pack) over ``--clips`` clips, for
  ``backend='decord'`` and ``backend='pyav'``, with 0, 1 and 2 workers,
  decoding every clip (no cache);
- the step fed by a real loader with 1 worker (the configs' setting: the
  worker shares the 2 cores with the step's threads), decoding every clip
  with each backend, and with the configs' decoded-clip cache
  (``VideoInit(max_cache_mb=...)``) once it is warm (a persistent worker
  that has read every clip once).

Each row is printed as clips/s and as its ratio to the step's clips/s.
Needs the data (``python tools/demo/make_moving_digits.py``; ``make
demo-video`` writes it).

Usage:
    python tools/benchmarks/video_loading.py [--clips 400] [--iters 20]
"""
import argparse
import copy
import time

import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.registry import DATASETS
from torch.utils.data import DataLoader

import clusterfit_plugin  # noqa: F401
from clusterfit_plugin.models.builder import (build_model_from_cfg,
                                              model_cfg_from_config)

CONFIG = 'configs/demo/clusterfit_r2plus1d-18-mini_moving-digits.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--clips', type=int, default=400, help='clips read per loader row')
    parser.add_argument(
        '--iters', type=int, default=20, help='timed training steps')
    parser.add_argument('--warmup', type=int, default=3)
    return parser.parse_args()


class Labelled(torch.utils.data.Dataset):
    """A dataset whose samples are all labelled 0, for the loss."""

    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        item = self.inner[i]
        item['data_samples'].set_gt_label(0)
        return item


def build_dataset(cfg: Config, backend: str, max_cache_mb: float = 0):
    """The config's inner training dataset with every reader on
    ``backend`` and the given decoded-clip cache."""
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset.dataset)
    for transform in dataset_cfg.pipeline:
        if transform['type'] == 'VideoInit':
            transform.update(backend=backend, max_cache_mb=max_cache_mb)
    return DATASETS.build(dataset_cfg)


def loader_rate(dataset, clips: int, workers: int, batch_size: int) -> float:
    """Clips/s of a DataLoader over the first ``clips`` clips."""
    subset = torch.utils.data.Subset(dataset, range(clips))
    loader = DataLoader(
        subset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=default_collate)
    start = time.perf_counter()
    for _ in loader:
        pass
    return clips / (time.perf_counter() - start)


def step_rate(model, batch, iters: int, warmup: int, loader=None) -> float:
    """Clips/s of training steps, on ``batch`` again and again or, with
    ``loader``, on its batches."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    source = iter(loader) if loader is not None else None
    clips, start = 0, None
    for it in range(warmup + iters):
        if it == warmup:
            start, clips = time.perf_counter(), 0
        data = next(source) if source is not None else batch
        data = model.data_preprocessor(data, training=True)
        losses = model(data['inputs'], data['data_samples'], mode='loss')
        sum(losses.values()).backward()
        optimizer.step()
        optimizer.zero_grad()
        clips += len(data['data_samples'])
    return clips / (time.perf_counter() - start)


def main():
    args = parse_args()
    torch.manual_seed(0)
    cfg = Config.fromfile(CONFIG)
    batch_size = cfg.train_dataloader.batch_size
    model = build_model_from_cfg(model_cfg_from_config(cfg))
    dataset = build_dataset(cfg, 'decord')
    batch = default_collate([Labelled(dataset)[i] for i in range(batch_size)])
    step = step_rate(model, batch, args.iters, args.warmup)
    print(f'training step ({CONFIG}, batch {batch_size}, '
          f'{torch.get_num_threads()} threads): {step:.0f} clips/s '
          '(the baseline)')
    print('| reader | workers | clips/s | vs the step |')
    print('| --- | ---: | ---: | ---: |')
    for backend in ('decord', 'pyav'):
        data = build_dataset(cfg, backend)
        for workers in (0, 1, 2):
            rate = loader_rate(data, args.clips, workers, batch_size)
            print(f'| {backend} | {workers} | {rate:.0f} | '
                  f'{rate / step:.1f}x |')

    cache_mb = next(t for t in cfg.train_dataloader.dataset.dataset.pipeline
                    if t['type'] == 'VideoInit').get('max_cache_mb', 0)
    for backend, cache in (('decord', 0), ('pyav', 0), ('decord', cache_mb)):
        data = Labelled(build_dataset(cfg, backend, cache))
        loader = DataLoader(
            torch.utils.data.Subset(data, range(args.clips)),
            batch_size=batch_size,
            shuffle=True,
            num_workers=1,
            persistent_workers=True,
            collate_fn=default_collate)
        if cache:
            for _ in loader:  # the first pass fills the worker's cache
                pass
        fed = step_rate(model, None, args.iters, args.warmup, loader)
        how = f'cached ({cache:g} MB), warm' if cache else 'no cache'
        print(f'training step fed by the {backend} loader (1 worker, {how}): '
              f'{fed:.0f} clips/s, {fed / step:.2f}x the step on a batch in '
              'memory')


if __name__ == '__main__':
    main()
