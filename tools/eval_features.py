# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Evaluate a checkpoint's frozen features: linear probe, few-shot, kNN.

Features are extracted once from the labelled train and test splits named
``eval_train_dataset`` / ``eval_test_dataset`` in ``--data`` (a config file),
then scikit-learn fits the probes. Works for any mmpretrain model (classifier
or self-supervised algorithm), so a source and its ClusterFit model are
compared the same way. Writes ``{out_dir}/{name}.json`` (a leaderboard row)
and ``{out_dir}/{name}.md`` (the same row as a Markdown table);
tools/leaderboard.py merges rows.

Several label sets of the same samples (a clip's digit and its motion, say)
are evaluated on one extraction when ``--data`` names them::

    eval_label_sets = dict(
        digit=('train.txt', 'test.txt'),
        motion=('train_motion.txt', 'test_motion.txt'))

each a pair of annotation files that replace the splits' ``ann_file`` and
list the same samples in the same order. Each set then gets its own row,
``{out_dir}/{set}/{name}.json``, whose ``dataset`` is ``{data}/{set}``.

Example:
    python tools/eval_features.py \
        configs/demo/clusterfit_resnet18-mini_mnist5k.py \
        work_dirs/demo/clusterfit/epoch_10.pth \
        --data configs/demo/_base_/mnist5k.py --name clusterfit-K200
    (CHECKPOINT 'none' evaluates the randomly initialised network.)
"""
import argparse
import json
import os
import os.path as osp
import shlex
import sys

from mmengine.dist import get_dist_info
from mmpretrain.utils import register_all_modules

import clusterfit_plugin  # noqa: F401
from clusterfit_plugin.evaluation import (MULTI_LABEL_PROTOCOLS, PROTOCOLS,
                                          evaluate_model, markdown_table)
from clusterfit_plugin.evaluation.tool_args import add_eval_args, eval_settings
from clusterfit_plugin.fileio import atomic_save_json, atomic_save_text
from clusterfit_plugin.models.builder import load_config
from clusterfit_plugin.utils import run_tool, start_launcher


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of the model to evaluate')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none'")
    parser.add_argument(
        '--data',
        required=True,
        help='config file with eval_train_dataset and '
        'eval_test_dataset')
    parser.add_argument('--name', required=True, help='method name (row)')
    parser.add_argument(
        '--source-name',
        default='-',
        help='the source this model came from (row)')
    parser.add_argument(
        '--protocols',
        nargs='+',
        default=['linear', 'fewshot', 'knn'],
        choices=PROTOCOLS + MULTI_LABEL_PROTOCOLS,
        help='checked before any feature is extracted')
    parser.add_argument(
        '--linear-c-grid',
        type=float,
        nargs='+',
        help='C values of the linear probe: the one that scores best on 20%% '
        'of the train split held out is used (default: C=1.0)')
    parser.add_argument('--shots', type=int, default=10)
    parser.add_argument('--k', type=int, default=20)
    add_eval_args(parser, num_workers=1)
    parser.add_argument('--out-dir', default='work_dirs/eval')
    parser.add_argument(
        '--also',
        nargs=4,
        action='append',
        metavar=('CONFIG', 'CHECKPOINT', 'NAME', 'SOURCE_NAME'),
        help='one more model to evaluate the same way in this process (one '
        'row each; repeatable); saves the start-up of another process')
    parser.add_argument(
        '--table',
        help='also write the Markdown table of all the rows of this run '
        '(as tools/leaderboard.py would merge them) to this file')
    return parser.parse_args()


def write_rows(rows: list, out_dir: str) -> None:
    """Write each row as JSON and Markdown, and print it."""
    for set_name, row, top1 in rows:
        directory = out_dir if set_name is None else osp.join(
            out_dir, set_name)
        os.makedirs(directory, exist_ok=True)
        path = osp.join(directory, f'{row["method"]}.json')
        atomic_save_json(path, row)
        table = markdown_table([row])
        atomic_save_text(path[:-len('.json')] + '.md', table + '\n')
        print(json.dumps(row))
        print(table)
        print(f'wrote {path} and its .md')
        title = row['method'] if set_name is None else (
            f'{row["method"]}/{set_name}')
        print(f'{title}: ' + ' | '.join(f'{k} {v:.2f}'
                                        for k, v in top1.items()))


def main():
    args = parse_args()
    register_all_modules(init_default_scope=True)
    start_launcher(args.launcher)
    data = load_config(args.data)
    settings = eval_settings(
        args,
        protocols=args.protocols,
        shots=args.shots,
        k=args.k,
        linear_c_grid=args.linear_c_grid)
    command = ' '.join(shlex.quote(a) for a in ['python'] + sys.argv)
    rows = []
    models = [(args.config, args.checkpoint, args.name, args.source_name)]
    for config, checkpoint, name, source_name in models + (args.also or []):
        model_rows = evaluate_model(
            data, args.data, config,
            None if checkpoint == 'none' else checkpoint, name, source_name,
            settings, command)
        write_rows(model_rows, args.out_dir)
        rows += [row for _, row, _ in model_rows]
    if args.table and get_dist_info()[0] == 0:
        atomic_save_text(args.table, markdown_table(rows) + '\n')
        print(f'wrote the table of all {len(rows)} rows to {args.table}')


if __name__ == '__main__':
    run_tool(main)
