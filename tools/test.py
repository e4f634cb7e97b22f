# Copyright (c) OpenMMLab and clusterfit_plugin contributors.
"""Test a checkpoint with the stock mmengine Runner (mmpretrain's flags).

Example:
    python tools/test.py configs/benchmarks/CONFIG.py work_dirs/x/epoch_100.pth
"""
import argparse

from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import clusterfit_plugin  # noqa: F401  (registers the plugin)
from clusterfit_plugin.models.builder import load_config
from clusterfit_plugin.utils import (add_runner_args, apply_runner_args,
                                     run_tool)


def parse_args():
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the predictions to this pickle')
    parser.add_argument(
        '--amp', action='store_true', help='test with mixed precision')
    add_runner_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config)
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True
    apply_runner_args(cfg, args)
    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else RUNNERS.build(cfg))
    if args.out:
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    run_tool(main)
