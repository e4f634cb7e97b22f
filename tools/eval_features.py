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

import numpy as np
from mmengine.config import Config
from mmpretrain.registry import DATASETS
from mmpretrain.utils import register_all_modules

import clusterfit_plugin  # noqa: F401
from clusterfit_plugin.datasets.sample_keys import scan_samples
from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.settings import CHECKPOINT_FORMATS, STAGES
from clusterfit_plugin.engine.source import (build_source_model,
                                             load_source_config)
from clusterfit_plugin.evaluation import (PROTOCOLS, evaluate_features,
                                          markdown_table)
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
        '--checkpoint-format',
        default='auto',
        choices=CHECKPOINT_FORMATS,
        help="the checkpoint's layout: mmpretrain, or VISSL's, "
        "torchvision's, MoCo's ('auto': detected and logged)")
    parser.add_argument(
        '--protocols',
        nargs='+',
        default=['linear', 'fewshot', 'knn'],
        choices=PROTOCOLS,
        help='checked before any feature is extracted')
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
    """Features, labels and sample identities of one labelled split."""
    dataset = DATASETS.build(dataset_cfg)
    keys, labels = scan_samples(dataset)
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
    return feats, labels, keys


def label_set(dataset_cfg: dict, ann_file: str, keys: list,
              data_file: str) -> np.ndarray:
    """The labels of one split read from another annotation file.

    Args:
        dataset_cfg (dict): the split's dataset config.
        ann_file (str): the annotation file of the label set.
        keys (list): the split's sample identities, in order.
        data_file (str): the ``--data`` config (for the error).

    Returns:
        np.ndarray: (N,) labels, in the split's order.
    """
    dataset = DATASETS.build(dict(dataset_cfg, ann_file=ann_file))
    set_keys, labels = scan_samples(dataset)
    if set_keys != keys:
        first = next(
            (i for i, (a, b) in enumerate(zip(set_keys, keys)) if a != b),
            min(len(keys), len(set_keys)))
        raise ValueError(
            f'{data_file}: the label set {ann_file!r} must list the samples '
            f'of {dataset_cfg.get("ann_file")!r} in the same order; it lists '
            f'{len(set_keys)} samples against {len(keys)}, and the lists '
            f'differ first at sample {first}. Write both lists from the '
            'same sample order.')
    if (labels < 0).any():
        raise ValueError(
            f'{data_file}: the label set {ann_file!r} gives sample '
            f'{int(np.argmax(labels < 0))} no single class; give every '
            'sample one label.')
    return labels


def label_sets(data: Config, args, train_keys: list, test_keys: list,
               train_y: np.ndarray, test_y: np.ndarray) -> dict:
    """The label sets to evaluate: ``eval_label_sets`` of ``--data``, or
    the splits' own labels.

    Returns:
        dict: set name (None for the splits' own labels) -> (train labels,
        test labels).
    """
    sets = data.get('eval_label_sets')
    if not sets:
        return {None: (train_y, test_y)}
    return {
        name:
        (label_set(data.eval_train_dataset, train_ann, train_keys, args.data),
         label_set(data.eval_test_dataset, test_ann, test_keys, args.data))
        for name, (train_ann, test_ann) in sets.items()
    }


def evaluate_model(args, data: Config, config: str, checkpoint: str, name: str,
                   source_name: str) -> list:
    """Evaluate one model and write its leaderboard rows.

    Args:
        args (argparse.Namespace): the shared settings.
        data (Config): the ``--data`` config.
        config (str): the model's config file.
        checkpoint (str): its checkpoint, or ``'none'``.
        name (str): the row's method name (and file name).
        source_name (str): the source the model came from.

    Returns:
        list[dict]: the leaderboard rows, one per label set.
    """
    checkpoint = None if checkpoint == 'none' else checkpoint
    source = dict(
        config=config,
        checkpoint=checkpoint,
        stage=args.stage,
        init_seed=args.init_seed)
    if checkpoint is not None:
        source['checkpoint_format'] = args.checkpoint_format
    model = build_source_model(source)
    train_x, train_y, train_keys = split_features(model,
                                                  data.eval_train_dataset,
                                                  args)
    test_x, test_y, test_keys = split_features(model, data.eval_test_dataset,
                                               args)
    model_cfg = load_source_config(source)
    head = model_cfg.get('head') or {}
    dataset = osp.splitext(osp.basename(args.data))[0]
    # The same for every label set: the checkpoint is hashed once.
    checkpoint_id = (
        sha256_file(checkpoint)[:8]
        if checkpoint else f'random-init-{args.init_seed}')
    command = ' '.join(shlex.quote(a) for a in ['python'] + sys.argv)
    rows = []
    sets = label_sets(data, args, train_keys, test_keys, train_y, test_y)
    for set_name, (set_train_y, set_test_y) in sets.items():
        top1 = evaluate_features(
            train_x,
            set_train_y,
            test_x,
            set_test_y,
            args.protocols,
            shots=args.shots,
            k=args.k)
        row = dict(
            method=name,
            source=source_name,
            backbone=model_cfg['backbone']['type'],
            K=head.get('num_clusters', '-'),
            dataset=dataset if set_name is None else f'{dataset}/{set_name}',
            protocol=f'frozen {args.stage}, {len(set_train_y)} train / '
            f'{len(set_test_y)} test',
            top1={  # sorted, as the JSON rows tools/leaderboard.py reads
                k: round(v, 2)
                for k, v in sorted(top1.items())
            },
            checkpoint=checkpoint_id,
            command=command)
        out_dir = args.out_dir
        if set_name is not None:
            out_dir = osp.join(out_dir, set_name)
        os.makedirs(out_dir, exist_ok=True)
        path = osp.join(out_dir, f'{name}.json')
        atomic_save_json(path, row)
        table = markdown_table([row])
        atomic_save_text(path[:-len('.json')] + '.md', table + '\n')
        print(json.dumps(row))
        print(table)
        print(f'wrote {path} and its .md')
        title = name if set_name is None else f'{name}/{set_name}'
        print(f'{title}: ' + ' | '.join(f'{k} {v:.2f}'
                                        for k, v in top1.items()))
        rows.append(row)
    return rows


def main():
    args = parse_args()
    register_all_modules(init_default_scope=True)
    data = Config.fromfile(args.data)
    models = [(args.config, args.checkpoint, args.name, args.source_name)]
    rows = [
        row for model in models + (args.also or [])
        for row in evaluate_model(args, data, *model)
    ]
    if args.table:
        atomic_save_text(args.table, markdown_table(rows) + '\n')
        print(f'wrote the table of all {len(rows)} rows to {args.table}')


if __name__ == '__main__':
    main()
