# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Step 1 of ClusterFit offline: extract the source's features.

Reads a ClusterFit training config (its ClusterFitHook and dataset) and
writes the source's features of the dataset into the hook's disk feature
store, ``{cache_dir}/features/`` (``{work_dir}/clusterfit`` by default): one
memory-mapped ``.npy`` per shard with a progress file, so an interrupted
extraction resumes where it stopped. Then ``tools/cluster_features.py``
clusters them, and training with the same config finds the labels.

Shards: under a launcher (``torchrun --nproc_per_node W
tools/extract_features.py CONFIG --launcher pytorch``, or slurm with
``--launcher slurm``) each rank extracts its own samples; without one,
``--shard I --num-shards W`` extracts shard I of W in this process (for
independent jobs, e.g. a slurm array).

Example:
    python tools/extract_features.py \\
        configs/demo/clusterfit_resnet18-mini_mnist5k.py \\
        --work-dir work_dirs/demo/clusterfit
    python tools/cluster_features.py \\
        configs/demo/clusterfit_resnet18-mini_mnist5k.py \\
        --work-dir work_dirs/demo/clusterfit
"""
import argparse

from mmengine.dist import get_dist_info

import clusterfit_plugin  # noqa: F401  (registers the plugin)
from clusterfit_plugin.engine import ClusterFitPipeline
from clusterfit_plugin.models.builder import load_config
from clusterfit_plugin.utils import (add_runner_args, apply_runner_args,
                                     run_tool)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='ClusterFit training config')
    parser.add_argument(
        '--shard',
        type=int,
        help='extract only this shard (0-based) of --num-shards, without a '
        'launcher')
    parser.add_argument(
        '--num-shards', type=int, help='the number of shards of --shard')
    add_runner_args(parser, dataloaders=False)
    args = parser.parse_args(argv)
    if (args.shard is None) != (args.num_shards is None):
        parser.error('give --shard and --num-shards together')
    if args.shard is not None:
        if not 0 <= args.shard < args.num_shards:
            parser.error(f'--shard {args.shard} must lie in [0, '
                         f'--num-shards {args.num_shards})')
        if args.launcher != 'none':
            parser.error('--shard is for runs without a launcher; under a '
                         'launcher each rank is a shard')
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    apply_runner_args(cfg, args, init_distributed=True)
    pipeline, dataset = ClusterFitPipeline.from_config(cfg)
    pipeline.check(dataset)  # K against N, the source: before any work
    cache = pipeline.cache(cfg.work_dir)
    parts, _ = pipeline.fingerprint(dataset)
    shard = None if args.shard is None else (args.shard, args.num_shards)
    pipeline.extract_shard(dataset, cache, parts, shard)
    rank, world_size = shard or get_dist_info()
    if rank == 0:
        print(
            f'features of shard {rank} of {world_size} are in '
            f'{cache.path("features")}; once every shard is done: python '
            f'tools/cluster_features.py {args.config} --work-dir '
            f'{cfg.work_dir}',
            flush=True)


if __name__ == '__main__':
    run_tool(main)
