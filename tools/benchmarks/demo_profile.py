# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Where the demo's time goes: the training step by phase, data loading, and
the frozen-feature evaluation, on the demo's own configs and data.

Each measurement is a ratio against a baseline timed in the same run:

- the training step of the ClusterFit demo model (its config's model, K=200,
  batch 128) split into data preprocessing, forward + loss, backward and
  the optimizer step, for torch intra-op threads x memory format; baseline:
  the settings the demo ran with before (all cores, contiguous);
- the operators of that step (channels-last, all cores), grouped:
  convolutions forward / backward, batch norm forward / backward, ReLU,
  the rest (torch.profiler, self CPU time);
- the train DataLoader alone (images/s) for 0, 1 and 2 workers, from the
  PNG files and from images decoded once and kept in memory;
- the evaluation of one model: feature extraction of the two splits, the
  logistic regressions (all labels, 3 x 10-shot) and the 20-NN.

Needs the demo data (``python tools/demo/prepare_mnist.py --out
data/mnist5k``; ``make demo`` writes it).

Usage:
    python tools/benchmarks/demo_profile.py [--iters 15]
"""
import argparse
import copy
import os.path as osp
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.registry import DATASETS
from torch.utils.data import DataLoader

import clusterfit_plugin  # noqa: F401
from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.source import build_source_model
from clusterfit_plugin.evaluation.frozen_features import (few_shot_indices,
                                                          knn_top1,
                                                          linear_top1)
from clusterfit_plugin.models.builder import build_model_from_cfg

CONFIG = 'configs/demo/clusterfit_resnet18-mini_mnist5k.py'
DATA = 'configs/demo/_base_/mnist5k.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--iters', type=int, default=15, help='timed training steps')
    parser.add_argument(
        '--warmup', type=int, default=3, help='untimed steps first')
    return parser.parse_args()


def step_phases(model, optimizer, batch, iters: int, warmup: int,
                channels_last: bool) -> dict:
    """Mean seconds per phase of ``iters`` training steps on one batch."""
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    times = dict(preprocess=[], forward=[], backward=[], optimizer=[])
    for it in range(warmup + iters):
        t0 = time.perf_counter()
        data = model.data_preprocessor(batch, training=True)
        inputs = data['inputs']
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        t1 = time.perf_counter()
        losses = model(inputs, data['data_samples'], mode='loss')
        loss = sum(v for v in losses.values())
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad()
        t4 = time.perf_counter()
        if it >= warmup:
            for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[key].append(dt)
    return {k: float(np.mean(v)) for k, v in times.items()}


def demo_batch(cfg) -> dict:
    """One training batch of the demo's images with random cluster labels."""
    rng = np.random.default_rng(0)
    dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    batch_size = cfg.train_dataloader.batch_size
    samples = []
    for i in range(batch_size):
        sample = dataset.dataset[i]
        sample['data_samples'].set_gt_label(int(rng.integers(200)))
        samples.append(sample)
    return default_collate(samples)


def training_step(cfg, args) -> None:
    """The step by phase, for threads x memory format."""
    batch = demo_batch(cfg)
    batch_size = cfg.train_dataloader.batch_size
    cores = torch.get_num_threads()
    print(f'== training step: ClusterFit demo model, batch {batch_size}, '
          f'{cores} cores (ms per step)')
    print('threads  memory        preprocess  forward  backward  optimizer'
          '    total  vs baseline')
    baseline = None
    for threads in sorted({cores, 1}, reverse=True):
        for channels_last in (False, True):
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            model = build_model_from_cfg(cfg.model)
            model.train()
            optimizer = torch.optim.SGD(
                model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
            t = step_phases(model, optimizer, batch, args.iters, args.warmup,
                            channels_last)
            total = sum(t.values())
            baseline = baseline or total
            print(f'{threads:7d}  '
                  f"{'channels_last' if channels_last else 'contiguous':12s}"
                  f"  {t['preprocess'] * 1e3:10.1f}  "
                  f"{t['forward'] * 1e3:7.1f}  {t['backward'] * 1e3:8.1f}  "
                  f"{t['optimizer'] * 1e3:9.1f}  {total * 1e3:7.1f}  "
                  f'{baseline / total:10.2f}x')
    torch.set_num_threads(cores)


OPERATOR_GROUPS = (
    ('convolution backward', ('convolution_backward', )),
    ('convolution forward', ('mkldnn_convolution', 'convolution')),
    ('batch norm backward', ('batch_norm_backward', )),
    ('batch norm forward', ('batch_norm', )),
    ('ReLU forward + backward', ('threshold_backward', 'relu', 'clamp_min')),
)


def operator_breakdown(cfg, args) -> None:
    """Self CPU time of the channels-last step's operators, grouped."""
    from torch.profiler import ProfilerActivity, profile
    batch = demo_batch(cfg)
    torch.manual_seed(0)
    model = build_model_from_cfg(cfg.model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step_phases(model, optimizer, batch, args.warmup, 0, True)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step_phases(model, optimizer, batch, args.iters, 0, True)
    totals = dict.fromkeys([name for name, _ in OPERATOR_GROUPS] + ['rest'],
                           0.0)
    for event in prof.key_averages():
        if not event.key.startswith('aten::'):
            continue  # autograd and optimizer wrappers: their ops are here
        op = event.key[len('aten::'):]
        group = next((name for name, ops in OPERATOR_GROUPS if any(
            op == o or op == f'native_{o}' or op == f'{o}_' for o in ops)),
                     'rest')
        totals[group] += event.self_cpu_time_total
    whole = sum(totals.values())
    print(f'\n== operators of the channels-last step ({args.iters} steps, '
          'self CPU time)')
    for name, us in totals.items():
        print(f'{name:26s} {us / 1e3 / args.iters:7.1f} ms  '
              f'{100 * us / whole:5.1f}%')


class InMemory(torch.utils.data.Dataset):
    """The wrapped dataset's samples, loaded once."""

    def __init__(self, dataset):
        self.samples = [dataset[i] for i in range(len(dataset))]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def data_loading(cfg) -> None:
    """images/s of the train DataLoader alone."""
    dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    inner = dataset.dataset
    batch_size = cfg.train_dataloader.batch_size
    print(f'\n== train DataLoader alone ({len(inner)} images, batch '
          f'{batch_size}, one epoch)')
    print('source              workers  images/s  epoch s  vs baseline')
    t0 = time.perf_counter()
    memory = InMemory(inner)
    decode_s = time.perf_counter() - t0
    baseline = None
    for name, data in (('PNG files', inner), ('in memory', memory)):
        for workers in (0, 1, 2):
            loader = DataLoader(
                data,
                batch_size=batch_size,
                shuffle=True,
                num_workers=workers,
                collate_fn=default_collate)
            t0 = time.perf_counter()
            for _ in loader:
                pass
            seconds = time.perf_counter() - t0
            baseline = baseline or seconds
            print(f'{name:18s}  {workers:7d}  {len(data) / seconds:8.0f}  '
                  f'{seconds:7.2f}  {baseline / seconds:10.2f}x')
    print(f'(decoding all {len(inner)} images once into memory took '
          f'{decode_s:.2f} s)')


def evaluation(cfg) -> None:
    """One model's evaluation by phase (random-init weights: the cost does
    not depend on them)."""
    data = Config.fromfile(DATA)
    print('\n== evaluation of one model (tools/eval_features.py phases)')
    t0 = time.perf_counter()
    model = build_source_model(
        dict(config=CONFIG, checkpoint=None, stage='backbone'))
    build_s = time.perf_counter() - t0
    feats = {}
    t0 = time.perf_counter()
    for split in ('eval_train_dataset', 'eval_test_dataset'):
        ds = DATASETS.build(copy.deepcopy(data[split]))
        x = extract_features(
            model,
            ds,
            data[split].pipeline,
            np.arange(len(ds)),
            'backbone',
            batch_size=256,
            num_workers=0,  # as tools/run_demo.sh runs it
            progress=False)
        y = np.array([ds.get_data_info(i)['gt_label'] for i in range(len(ds))])
        feats[split] = (x, y)
    extract_s = time.perf_counter() - t0
    tx, ty = feats['eval_train_dataset']
    vx, vy = feats['eval_test_dataset']
    t0 = time.perf_counter()
    linear_top1(tx, ty, vx, vy)
    linear_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for seed in (0, 1, 2):
        idx = few_shot_indices(ty, 10, seed)
        linear_top1(tx[idx], ty[idx], vx, vy)
    fewshot_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    knn_top1(tx, ty, vx, vy, 20)
    knn_s = time.perf_counter() - t0
    phases = dict(
        build_model=build_s,
        extract_train_and_test=extract_s,
        logistic_all_labels=linear_s,
        logistic_10shot_x3=fewshot_s,
        knn20=knn_s)
    total = sum(phases.values())
    for name, seconds in phases.items():
        print(f'{name:24s} {seconds:7.2f} s  {100 * seconds / total:5.1f}%')


def main():
    args = parse_args()
    if not osp.isfile('data/mnist5k/train.txt'):
        raise SystemExit('data/mnist5k is missing: run python '
                         'tools/demo/prepare_mnist.py --out data/mnist5k')
    cfg = Config.fromfile(CONFIG)
    training_step(cfg, args)
    operator_breakdown(cfg, args)
    data_loading(cfg)
    evaluation(cfg)


if __name__ == '__main__':
    main()
