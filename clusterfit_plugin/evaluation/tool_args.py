# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The flags the evaluation tools share (``tools/eval_features.py``,
``tools/analysis_tools/benchmark_suite.py``): how a model's frozen features
are extracted and the linear probe fitted, and the :class:`EvalSettings`
they give."""
import argparse

from ..engine.settings import CHECKPOINT_FORMATS, STAGES
from .model_eval import EvalSettings
from .torch_linear import CLASSIFIERS
from .vissl_layers import VISSL_LAYERS


def add_eval_args(parser: argparse.ArgumentParser, num_workers: int) -> None:
    """Add the extraction and classifier flags.

    Args:
        parser (ArgumentParser): the tool's parser, extended in place.
        num_workers (int): the tool's default of ``--num-workers``.
    """
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
        '--classifier',
        default='sklearn',
        choices=CLASSIFIERS,
        help='the linear probe: scikit-learn on the CPU, or the same '
        'objective in torch, fitted to its optimum, on the GPU when there '
        'is one (the numbers can differ: docs/benchmarks.md)')
    parser.add_argument(
        '--vissl-layer',
        choices=sorted(VISSL_LAYERS),
        help="score a ResNet's res4 or res5 map pooled as VISSL's benchmarks "
        "pool it (9216 / 8192 features at 224 pixels) instead of the stage's "
        'output')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--num-workers', type=int, default=num_workers)
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='extract in the channels-last memory format (faster on CPUs '
        'with oneDNN and on GPUs; the same features up to float rounding)')
    parser.add_argument(
        '--feature-dir',
        help='extract each split into resumable disk stores here, one shard '
        'per rank (needed with a launcher); default: in memory')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
        help='under torchrun or slurm, every rank extracts its shard into '
        '--feature-dir and rank 0 scores and writes the rows')


def eval_settings(args: argparse.Namespace, **fields) -> EvalSettings:
    """The settings of :func:`add_eval_args`'s flags.

    Args:
        args (Namespace): the parsed flags.
        **fields: the tool's other :class:`EvalSettings` fields.

    Returns:
        EvalSettings: the settings.
    """
    return EvalSettings(
        stage=args.stage,
        init_seed=args.init_seed,
        checkpoint_format=args.checkpoint_format,
        classifier=args.classifier,
        vissl_layer=args.vissl_layer,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        channels_last=args.channels_last,
        feature_dir=args.feature_dir,
        **fields)
