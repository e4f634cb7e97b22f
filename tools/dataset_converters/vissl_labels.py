# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Import or export VISSL's ClusterFit label files.

VISSL trains ClusterFit's second stage on a ``disk_filelist``: an image list
``{split}_images.npy`` and labels ``{split}_labels.npy``. ``import`` matches
such a pair to a config's training dataset by image path and writes the
labels in dataset order, for ``ClusterFitDataset(label_file=...)``;
``export`` writes the pair from labels in dataset order (the hook's
``labels.npy``), for VISSL. Every image must match, or nothing is written.

Examples:
    python tools/dataset_converters/vissl_labels.py import CONFIG \\
        vissl/train_labels.npy --out work_dirs/vissl_labels.npy \\
        --replace-prefix /datasets/imagenet/ data/imagenet/
    python tools/train.py CONFIG --cfg-options custom_hooks=[] \\
        train_dataloader.dataset.label_file=work_dirs/vissl_labels.npy
    python tools/dataset_converters/vissl_labels.py export CONFIG \\
        work_dirs/cf/clusterfit/labels.npy --out-dir vissl_data --split train
"""
import argparse

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS

import clusterfit_plugin  # noqa: F401  (registers the plugin)
from clusterfit_plugin.datasets import (ClusterFitDataset, export_vissl_labels,
                                        import_vissl_labels)
from clusterfit_plugin.fileio import atomic_save_npy, load_npy
from clusterfit_plugin.models.builder import load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    imp = sub.add_parser('import', help='VISSL pair -> a label file')
    imp.add_argument('config', help='config of the training dataset')
    imp.add_argument('labels', help="VISSL's {split}_labels.npy")
    imp.add_argument(
        '--images',
        help="VISSL's image list (default: the labels file's name with "
        '_images.npy for _labels.npy)')
    imp.add_argument('--out', required=True, help='the label file to write')
    imp.add_argument(
        '--replace-prefix',
        nargs=2,
        metavar=('OLD', 'NEW'),
        help='read VISSL image paths starting with OLD as starting with NEW')
    imp.add_argument(
        '--allow-extra',
        action='store_true',
        help='accept VISSL images that are not in the dataset')
    exp = sub.add_parser('export', help='a label file -> VISSL pair')
    exp.add_argument('config', help='config of the training dataset')
    exp.add_argument('labels', help='labels in dataset order (labels.npy)')
    exp.add_argument('--out-dir', required=True, help='where the pair goes')
    exp.add_argument('--split', default='train', help='names the files')
    for p in (imp, exp):
        p.add_argument(
            '--cfg-options',
            nargs='+',
            action=DictAction,
            help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.command == 'import' and args.images is None:
        if not args.labels.endswith('_labels.npy'):
            parser.error(f'{args.labels} does not end with _labels.npy; '
                         'name its image list with --images')
        args.images = args.labels[:-len('_labels.npy')] + '_images.npy'
    return args


def train_dataset(cfg: Config):
    """The config's training dataset (unwrapped from a ClusterFitDataset)."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return dataset.dataset if isinstance(dataset,
                                         ClusterFitDataset) else dataset


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset = train_dataset(cfg)
    if args.command == 'import':
        labels = import_vissl_labels(dataset, args.labels, args.images,
                                     args.replace_prefix, args.allow_extra)
        atomic_save_npy(args.out, labels)
        print(f'wrote {args.out}: {len(labels)} labels in dataset order, '
              f'{len(np.unique(labels))} distinct (max {labels.max()}). '
              'Train on them with --cfg-options custom_hooks=[] '
              f'train_dataloader.dataset.label_file={args.out} (K, the '
              "head's num_clusters, must exceed the max).")
    else:
        labels = load_npy(args.labels, f'--labels {args.labels}')
        files = export_vissl_labels(dataset, labels, args.out_dir, args.split)
        print(f'wrote {files[0]} and {files[1]} ({len(labels)} images) for '
              "VISSL's disk_filelist data source.")


if __name__ == '__main__':
    main()
