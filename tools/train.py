# Copyright (c) OpenMMLab and clusterfit_plugin contributors.
"""Train a model with the stock mmengine Runner (mmpretrain's flags).

Example:
    python tools/train.py configs/clusterfit_r50.py --work-dir work_dirs/cf
    python tools/train.py configs/demo/clusterfit_resnet18-mini_mnist5k.py \
        --num-clusters 50 --cfg-options train_cfg.max_epochs=8
"""
import argparse

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import clusterfit_plugin  # noqa: F401  (registers the plugin)
from clusterfit_plugin.models.builder import load_config
from clusterfit_plugin.utils import (add_runner_args, apply_runner_args,
                                     check_config, check_training_entries,
                                     run_tool, set_num_clusters)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or, without a path, from the '
        'latest checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size')
    parser.add_argument(
        '--num-clusters',
        type=int,
        help='K: sets the ClusterFitHook, the ClusterFitHead, the '
        'ClusterFitDataset and the data preprocessor together')
    add_runner_args(parser)
    return parser.parse_args()


def merge_args(cfg, args):
    """Merge command-line arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        if 'base_batch_size' not in (cfg.get('auto_scale_lr') or {}):
            raise ValueError(
                f'{args.config}: --auto-scale-lr needs the batch size the lr '
                'was tuned for; add `auto_scale_lr = dict(base_batch_size='
                'N)` to the config (N = GPUs x samples per GPU).')
        cfg.auto_scale_lr.enable = True
    if args.num_clusters is not None:
        set_num_clusters(cfg, args.num_clusters)
    apply_runner_args(cfg, args)
    check_config(cfg)
    return cfg


def main():
    args = parse_args()
    cfg = load_config(args.config)
    check_training_entries(cfg)
    cfg = merge_args(cfg, args)
    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else RUNNERS.build(cfg))
    runner.train()


if __name__ == '__main__':
    run_tool(main)
