# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Evaluate a checkpoint's frozen features: linear probe, few-shot, kNN.

Features are extracted once from the labelled train and test splits named
``eval_train_dataset`` / ``eval_test_dataset`` in ``--data`` (a config file),
then scikit-learn fits the probes. Works for any mmpretrain model (classifier
or self-supervised algorithm), so a source and its ClusterFit model are
compared the same way. Writes ``{out_dir}/{name}.json`` (a leaderboard row)
and ``{out_dir}/{name}.md`` (the same row as a Markdown table);
tools/leaderboard.py merges rows.

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

import numpy as np
from mmengine.config import Config
from mmpretrain.registry import DATASETS
from mmpretrain.utils import register_all_modules

import clusterfit_plugin  # noqa: F401
from clusterfit_plugin.engine.extractor import (STAGES, build_source_model,
                                                extract_features,
                                                load_source_config)
from clusterfit_plugin.evaluation import evaluate_features, markdown_table
from clusterfit_plugin.fileio import (atomic_save_json, atomic_save_text,
                                      sha256_file)


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
    parser.add_argument('--stage', default='backbone', choices=STAGES)
    parser.add_argument(
        '--init-seed',
        type=int,
        default=0,
        help='seed of the random initialisation when '
        "CHECKPOINT is 'none'")
    parser.add_argument(
        '--protocols', nargs='+', default=['linear', 'fewshot', 'knn'])
    parser.add_argument('--shots', type=int, default=10)
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--num-workers', type=int, default=1)
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='extract in the channels-last memory format (faster on CPUs '
        'with oneDNN and on GPUs; the same features up to float rounding)')
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


def split_features(model, dataset_cfg: dict, args):
    """Features and labels of one labelled split."""
    dataset = DATASETS.build(dataset_cfg)
    labels = np.array([
        int(dataset.get_data_info(i)['gt_label']) for i in range(len(dataset))
    ])
    feats = extract_features(
        model,
        dataset,
        dataset_cfg['pipeline'],
        np.arange(len(dataset)),
        args.stage,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        channels_last=args.channels_last,
        progress=False)
    return feats, labels


def evaluate_model(args, data: Config, config: str, checkpoint: str, name: str,
                   source_name: str) -> None:
    """Evaluate one model and write its leaderboard row.

    Args:
        args (argparse.Namespace): the shared settings.
        data (Config): the ``--data`` config.
        config (str): the model's config file.
        checkpoint (str): its checkpoint, or ``'none'``.
        name (str): the row's method name (and file name).
        source_name (str): the source the model came from.

    Returns:
        dict: the leaderboard row.
    """
    checkpoint = None if checkpoint == 'none' else checkpoint
    source = dict(
        config=config,
        checkpoint=checkpoint,
        stage=args.stage,
        init_seed=args.init_seed)
    model = build_source_model(source)
    train_x, train_y = split_features(model, data.eval_train_dataset, args)
    test_x, test_y = split_features(model, data.eval_test_dataset, args)
    top1 = evaluate_features(
        train_x,
        train_y,
        test_x,
        test_y,
        args.protocols,
        shots=args.shots,
        k=args.k)
    model_cfg = load_source_config(source)
    head = model_cfg.get('head') or {}
    row = dict(
        method=name,
        source=source_name,
        backbone=model_cfg['backbone']['type'],
        K=head.get('num_clusters', '-'),
        dataset=osp.splitext(osp.basename(args.data))[0],
        protocol=f'frozen {args.stage}, {len(train_y)} train / '
        f'{len(test_y)} test',
        top1={  # sorted, as the JSON rows tools/leaderboard.py reads
            k: round(v, 2)
            for k, v in sorted(top1.items())
        },
        checkpoint=(sha256_file(checkpoint)[:8]
                    if checkpoint else f'random-init-{args.init_seed}'),
        command=' '.join(shlex.quote(a) for a in ['python'] + sys.argv))
    os.makedirs(args.out_dir, exist_ok=True)
    path = osp.join(args.out_dir, f'{name}.json')
    atomic_save_json(path, row)
    table = markdown_table([row])
    atomic_save_text(path[:-len('.json')] + '.md', table + '\n')
    print(json.dumps(row))
    print(table)
    print(f'wrote {path} and its .md')
    print(f'{name}: ' + ' | '.join(f'{k} {v:.2f}' for k, v in top1.items()))
    return row


def main():
    args = parse_args()
    register_all_modules(init_default_scope=True)
    data = Config.fromfile(args.data)
    models = [(args.config, args.checkpoint, args.name, args.source_name)]
    rows = [
        evaluate_model(args, data, *model)
        for model in models + (args.also or [])
    ]
    if args.table:
        atomic_save_text(args.table, markdown_table(rows) + '\n')
        print(f'wrote the table of all {len(rows)} rows to {args.table}')


if __name__ == '__main__':
    main()
