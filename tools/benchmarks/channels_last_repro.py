# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Reproduce (or fail to reproduce) the ChannelsLastHook defect with plain
torch: no mmengine, no plugin.

The tests' toy model (mmpretrain's ``ResNet_CIFAR``, depth 18, 4 base
channels, 16 px inputs) once hung in oneDNN's
``jit_avx2_1x1_convolution_bwd_weights`` or aborted with "double free or
corruption" when trained channels-last on the CPU (docs/status.md). This
script rebuilds that network in bare torch, trains it for a few steps in
fresh processes, each with a timeout, and counts how each run ended:
``ok``, ``hang`` (timed out), ``crash`` (killed by a signal or an abort
message) or ``error``. It prints torch's and oneDNN's versions and the
CPU's vector extensions, so the result can be compared across machines.

Examples::

    python tools/benchmarks/channels_last_repro.py --trials 20
    # oneDNN's AVX2 kernels on an AVX-512 machine, one thread:
    python tools/benchmarks/channels_last_repro.py --isa AVX2 --threads 1
    # one strided 1x1 convolution with 4 input channels
    python tools/benchmarks/channels_last_repro.py --isa AVX2 --threads 1 \\
        --conv 4 8 2 1
    # the control: the same runs in the contiguous format
    python tools/benchmarks/channels_last_repro.py --format contiguous
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import time

import torch
from torch import nn


class BasicBlock(nn.Module):
    """torchvision's / mmpretrain's basic residual block."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            # The 1x1 convolutions whose backward oneDNN ran when it hung.
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + identity)


def toy_resnet(width: int, channels: int) -> nn.Module:
    """``ResNet_CIFAR`` depth 18 (3x3 stem, no max-pool) with ``width``
    base channels, as in the tests' ``BACKBONE``."""
    layers = [
        nn.Conv2d(channels, width, 3, 1, 1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU()
    ]
    cin = width
    for stage in range(4):
        cout = width * 2**stage
        for block in range(2):
            layers.append(
                BasicBlock(cin, cout, 2 if stage and not block else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 5)]
    return nn.Sequential(*layers)


def child(args) -> None:
    """One training run in this process; prints the last loss."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.conv:
        # One convolution, its weight's gradient only (what oneDNN's
        # ``bwd_weights`` kernels compute).
        cin, cout, stride, kernel = args.conv
        model = nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cout, 5))
    else:
        model = toy_resnet(args.width, 3)
    fmt = (
        torch.channels_last
        if args.format == 'channels_last' else torch.contiguous_format)
    model = model.to(memory_format=fmt)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    channels = args.conv[0] if args.conv else 3
    images = torch.rand(args.batch, channels, args.size,
                        args.size).to(memory_format=fmt)
    targets = torch.randint(0, 5, (args.batch, ))
    for _ in range(args.steps):
        loss = nn.functional.cross_entropy(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f'loss {loss.item():.6f}', flush=True)


def environment() -> str:
    """torch's and oneDNN's versions and the CPU's vector extensions."""
    onednn = re.search(r'(?:oneDNN|MKL-DNN) v[\d.]+', torch.__config__.show())
    flags, model = '', 'unknown'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    flags = ' '.join(
                        sorted(
                            set(re.findall(r'\b(avx\w*|amx\w*|fma)\b', line))))
                    break
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
    except OSError:
        pass
    return (f'torch {torch.__version__}, '
            f'{onednn.group(0) if onednn else "oneDNN unknown"}\n'
            f'CPU {model}, {os.cpu_count()} cores: {flags}')


def classify(done) -> str:
    """How a child run ended."""
    if done is None:
        return 'hang'
    text = done.stdout + done.stderr
    if done.returncode < 0 or re.search(
            r'double free|corrupt|Segmentation|Aborted', text):
        return 'crash'
    if done.returncode != 0:
        return 'error'
    return 'ok'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--trials', type=int, default=10)
    parser.add_argument('--steps', type=int, default=30)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--width',
        type=int,
        default=4,
        help='base channels (the tests use 4, the demo 16)')
    parser.add_argument('--size', type=int, default=16, help='image side')
    parser.add_argument(
        '--conv',
        type=int,
        nargs=4,
        metavar=('IN', 'OUT', 'STRIDE', 'KERNEL'),
        help='train one convolution of this shape instead '
        'of the toy ResNet')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--format',
        default='channels_last',
        choices=['channels_last', 'contiguous'])
    parser.add_argument(
        '--isa',
        help='cap oneDNN at this instruction set '
        '(ONEDNN_MAX_CPU_ISA), e.g. AVX2')
    parser.add_argument('--timeout', type=float, default=60)
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        child(args)
        return
    print(environment())
    env = dict(os.environ)
    if args.isa:
        env['ONEDNN_MAX_CPU_ISA'] = args.isa
    counts = collections.Counter()
    start = time.perf_counter()
    for trial in range(args.trials):
        cmd = [sys.executable, __file__, '--child'] + [
            a for a in sys.argv[1:] if a != '--child'
        ] + ['--seed', str(args.seed + trial)]
        try:
            done = subprocess.run(
                cmd,
                env=env,
                capture_output=True,
                text=True,
                timeout=args.timeout)
        except subprocess.TimeoutExpired:
            done = None
        outcome = classify(done)
        counts[outcome] += 1
        detail = '' if done is None else (done.stdout.strip()
                                          or done.stderr.strip()[-200:])
        print(f'trial {trial}: {outcome} {detail}', flush=True)
    model = (f'conv {args.conv}' if args.conv else f'width {args.width}')
    print(
        f'{args.format}, {model}, size {args.size}, {args.threads} thread(s), '
        f'isa {args.isa or "default"}: ' +
        ', '.join(f'{k} {v}' for k, v in sorted(counts.items())) +
        f' of {args.trials} ({time.perf_counter() - start:.0f} s)')


if __name__ == '__main__':
    main()
