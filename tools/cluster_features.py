# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Step 2 of ClusterFit offline: cluster the extracted features.

Reads the features ``tools/extract_features.py`` wrote for a ClusterFit
training config (every shard), fits the hook's k-means (the same seeded
sample, preprocessing and settings) and writes what the hook writes:
``labels.npy``, ``centroids.npy``, ``manifest.json`` and the diagnostics in
``{cache_dir}`` (``{work_dir}/clusterfit`` by default). Training with the
same config then reuses them (a cache hit: no extraction, no k-means). The
feature shards are removed afterwards unless ``--keep-features`` or the
config's ``features.keep``.

Example:
    python tools/cluster_features.py \\
        configs/demo/clusterfit_resnet18-mini_mnist5k.py \\
        --work-dir work_dirs/demo/clusterfit
"""
import argparse

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
        '--keep-features',
        action='store_true',
        help='keep the feature shards after clustering')
    # One process: extraction is the step to spread over ranks.
    add_runner_args(parser, dataloaders=False, launcher=False)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    apply_runner_args(cfg, args)
    pipeline, dataset = ClusterFitPipeline.from_config(cfg)
    pipeline.check(dataset)  # K against N, the source: before any work
    cache = pipeline.cache(cfg.work_dir)
    cache.acquire()  # no training run writes this cache meanwhile
    parts, classes = pipeline.fingerprint(dataset)
    pipeline.cluster_stored(dataset, cache, parts, classes, args.keep_features)
    print(
        f'wrote {cache.path("labels.npy")} and its manifest; training '
        f'with {args.config} (work dir {cfg.work_dir}) reuses them.',
        flush=True)


if __name__ == '__main__':
    run_tool(main)
