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

from mmengine.config import Config

import clusterfit_plugin  # noqa: F401  (registers the plugin)
from clusterfit_plugin.engine.cache import feature_key
from clusterfit_plugin.engine.offline import hook_and_dataset, load_shards
from clusterfit_plugin.utils import (add_runner_args, apply_runner_args,
                                     shutdown_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='ClusterFit training config')
    parser.add_argument(
        '--keep-features',
        action='store_true',
        help='keep the feature shards after clustering')
    add_runner_args(parser)
    args = parser.parse_args(argv)
    if args.launcher != 'none':
        parser.error('clustering runs in one process; extraction is the '
                     'step to spread over ranks')
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    apply_runner_args(cfg, args)
    hook, dataset = hook_and_dataset(cfg)
    cache = hook.cache(cfg.work_dir)
    cache.acquire()  # no training run writes this cache meanwhile
    parts, _ = hook.fingerprint(dataset)
    shard, stores = load_shards(cache, feature_key(parts), len(dataset),
                                hook.round.feature_store.dtype)
    result = hook.round.cluster(shard)
    hook.save(cache, result, parts)
    hook.diagnose(dataset, cache, result.labels, 'source')
    if not (args.keep_features or hook.round.feature_store.keep):
        for store in stores:
            store.remove()
    print(
        f'wrote {cache.path("labels.npy")} and its manifest; training '
        f'with {args.config} (work dir {cfg.work_dir}) reuses them.',
        flush=True)


if __name__ == '__main__':
    main()
    shutdown_distributed()
