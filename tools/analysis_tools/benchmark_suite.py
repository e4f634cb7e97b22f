# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Run a suite of transfer benchmarks on one checkpoint: one table.

Each benchmark is a data config of ``configs/benchmarks/transfer/`` (the
dataset in its official layout, through mmpretrain's class or the
plugin's, and its protocol): VOC07 by VISSL's per-class SVMs, the others by
a linear probe on frozen features with C chosen on a held-out part of the
train split. Suites:

- ``paper-image``: VOC07, ImageNet-1k, Places205, iNaturalist 2018;
- ``paper-video``: UCF101 and HMDB51, official splits 1-3;
- ``fine-grained``: Food-101, Pets, CUB, Aircraft, Cars, Flowers, DTD,
  Caltech-101, SUN397.

Each finished benchmark's row is recorded in ``{work_dir}/{suite}/``; a
second run on the same checkpoint does only what is left. With
``--feature-dir`` the splits are extracted into resumable disk stores;
under a launcher (``torchrun --nproc_per_node N ... --launcher pytorch``)
each rank extracts its shard there and rank 0 scores. A benchmark
whose data is not there is listed, with the paths its config expects,
under the table (``{work_dir}/{suite}/leaderboard.md``); it is not an
error.

Example:
    python tools/analysis_tools/benchmark_suite.py \
        configs/clusterfit_r50.py work_dirs/clusterfit_r50/epoch_105.pth \
        --suite paper-image --data-root /datasets --name clusterfit-r50 \
        --quoted docs/results/quoted_vissl_model_zoo.json
"""
import argparse
import json
import os.path as osp
import shlex
import sys

from mmengine.dist import get_dist_info
from mmpretrain.utils import register_all_modules

import clusterfit_plugin  # noqa: F401
from clusterfit_plugin.evaluation import markdown_table
from clusterfit_plugin.evaluation.leaderboard import check_quoted
from clusterfit_plugin.evaluation.suite import SUITES, run_suite
from clusterfit_plugin.evaluation.tool_args import add_eval_args, eval_settings
from clusterfit_plugin.fileio import atomic_save_text
from clusterfit_plugin.utils import run_tool, start_launcher

CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'benchmarks', 'transfer')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of the model to evaluate')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none'")
    parser.add_argument('--suite', required=True, choices=sorted(SUITES))
    parser.add_argument(
        '--data-root',
        help="replaces the leading 'data/' of every benchmark's data root")
    parser.add_argument('--name', default='model', help='method name (row)')
    parser.add_argument('--source-name', default='-')
    parser.add_argument(
        '--quoted',
        action='append',
        default=[],
        help='a JSON list of quoted rows to show beside the measured ones')
    add_eval_args(parser, num_workers=4)
    parser.add_argument('--work-dir', default='work_dirs/benchmark_suite')
    parser.add_argument(
        '--configs',
        default=CONFIGS,
        help='folder of the benchmark configs (default: the shipped ones)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    start_launcher(args.launcher)
    settings = eval_settings(args)
    work_dir = osp.join(args.work_dir, args.suite)
    command = ' '.join(shlex.quote(a) for a in ['python'] + sys.argv)
    result = run_suite(
        args.suite,
        args.config,
        None if args.checkpoint == 'none' else args.checkpoint,
        args.name,
        args.source_name,
        settings,
        work_dir,
        command,
        args.configs,
        data_root=args.data_root)
    if get_dist_info()[0] != 0:
        return
    rows = list(result.rows)
    for path in args.quoted:
        with open(path, encoding='utf-8') as f:
            rows += check_quoted(json.load(f), path)
    lines = [markdown_table(rows)] if rows else ['No benchmark ran.']
    if result.missing:
        lines += ['', 'Not run, data missing (expected paths):']
        lines += [
            f'- {bench}: {", ".join(paths)}'
            for bench, paths in result.missing.items()
        ]
    text = '\n'.join(lines) + '\n'
    atomic_save_text(osp.join(work_dir, 'leaderboard.md'), text)
    print(text)
    print(f'{len(result.rows) - len(result.reused)} run now, '
          f'{len(result.reused)} recorded before, {len(result.missing)} '
          f'missing; table in {osp.join(work_dir, "leaderboard.md")}')


if __name__ == '__main__':
    run_tool(main)
