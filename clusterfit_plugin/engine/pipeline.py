# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ClusterFitPipeline``: ClusterFit's clustering of a source, without a
Runner.

The one object that :class:`ClusterFitHook`, ``tools/extract_features.py``
and ``tools/cluster_features.py`` drive: built from the typed settings, it
checks a setup before any data is read, fingerprints a dataset, looks the
labels up in the cache, extracts the source's features (all at once, or a
shard into the resumable disk store), clusters them, writes the cache and
the diagnostics. The hook adds only what a training loop needs.
"""
import copy
import dataclasses
import gc
import inspect
import logging
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import get_dist_info, is_main_process
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS

from ..clustering import KMeans
from ..datasets import ClusterFitDataset, scan_samples
from ..datasets.transforms import build_pipeline_for
from ..fileio import sha256_of
from ..settings import as_path, as_transforms
from ..visualization import DiagnosticsWriter
from .cache import ClusterCache
from .clustering_round import ClusteringResult, ClusteringRound, FeatureShard
from .extractor import DEFAULT_EXTRACT_PIPELINE
from .fingerprint import feature_key
from .rank_protocol import rank0_then_broadcast
from .settings import DiagnosticsSettings, FingerprintSettings, parse_optional
from .source import (build_source_model, check_source, parse_source,
                     source_fingerprint)
from .stored_features import load_shards

# The hook's arguments that are not the pipeline's.
HOOK_ONLY = ('type', 'interval', 'recluster_stage', 'reweight_loss',
             'priority')


class ClusterFitPipeline:
    """Cluster a source network's features of a dataset, with a cache.

    Args:
        num_clusters (int): K.
        source (dict | SourceSettings): the source network
            (:class:`SourceSettings`).
        extract_pipeline (list[dict], optional): deterministic extraction
            pipeline. Defaults to resize 256 + center crop 224.
        kmeans (dict, optional): arguments of :class:`KMeans` other than K.
        batch_size, num_workers, l2_normalize, amp, features, pca,
            channels_last, wait_poll_s: arguments of
            :class:`ClusteringRound`, documented there.
        fingerprint (dict, optional): :class:`FingerprintSettings`.
        diagnostics (dict, optional): :class:`DiagnosticsSettings` of the
            :class:`DiagnosticsWriter` (``self.diagnostics``); None turns
            them off. Defaults to ``dict(grid_clusters=8, per_cluster=8)``.
        cache_dir (str, optional): defaults to ``{work_dir}/clusterfit``.
    """

    def __init__(self,
                 num_clusters: int,
                 source: dict,
                 extract_pipeline: Optional[List[dict]] = None,
                 kmeans: Optional[dict] = None,
                 batch_size: int = 64,
                 num_workers: int = 2,
                 l2_normalize: bool = True,
                 amp: bool = False,
                 features: Optional[dict] = None,
                 pca: Optional[dict] = None,
                 channels_last: bool = False,
                 wait_poll_s: float = 60.0,
                 fingerprint: Optional[dict] = None,
                 diagnostics: Optional[dict] = dict(
                     grid_clusters=8, per_cluster=8),
                 cache_dir: Optional[str] = None):
        self.source = parse_source(source)
        self.kmeans = KMeans.from_config(num_clusters, kmeans)
        self.fingerprint_settings = FingerprintSettings.parse(fingerprint
                                                              or {})
        self.extract_pipeline = copy.deepcopy(
            DEFAULT_EXTRACT_PIPELINE if extract_pipeline is
            None else as_transforms(extract_pipeline, 'extract_pipeline'))
        settings = parse_optional(DiagnosticsSettings, diagnostics)
        self.diagnostics = None if settings is None else DiagnosticsWriter(
            settings, self.extract_pipeline, self.kmeans.num_clusters)
        self.round = ClusteringRound(
            self.kmeans,
            self.extract_pipeline,
            batch_size=batch_size,
            num_workers=num_workers,
            l2_normalize=l2_normalize,
            pca=pca,
            features=features,
            amp=amp,
            channels_last=channels_last,
            wait_poll_s=wait_poll_s)
        self.cache_dir = as_path(cache_dir, 'cache_dir', optional=True)

    @property
    def num_clusters(self) -> int:
        """int: K."""
        return self.kmeans.num_clusters

    @classmethod
    def from_config(cls, cfg: Config) -> Tuple['ClusterFitPipeline', object]:
        """The pipeline of a training config's ``ClusterFitHook``, and the
        dataset its ``ClusterFitDataset`` wraps (what the offline tools
        cluster).

        Args:
            cfg (Config): a training config with one ``ClusterFitHook`` in
                ``custom_hooks`` and a ``ClusterFitDataset`` as
                ``train_dataloader.dataset``.

        Returns:
            tuple: the pipeline and the wrapped dataset.
        """
        hooks = [
            h for h in cfg.get('custom_hooks') or []
            if h.get('type') == 'ClusterFitHook'
        ]
        if len(hooks) != 1:
            raise ValueError(f'{cfg.filename}: expected one ClusterFitHook in '
                             f'custom_hooks, found {len(hooks)}.')
        hook = hooks[0].to_dict() if hasattr(hooks[0], 'to_dict') else dict(
            hooks[0])
        pipeline = cls(**{k: v for k, v in hook.items() if k not in HOOK_ONLY})
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            dataset = DATASETS.build(cfg.train_dataloader.dataset)
        if not isinstance(dataset, ClusterFitDataset):
            raise TypeError(
                f'{cfg.filename}: train_dataloader.dataset is '
                f'{type(dataset).__name__}, not a ClusterFitDataset.')
        return pipeline, dataset.dataset

    def cache(self, work_dir: str) -> ClusterCache:
        """The cache directory.

        Args:
            work_dir (str): the run's work directory.

        Returns:
            ClusterCache: ``cache_dir``, or ``{work_dir}/clusterfit``.
        """
        return ClusterCache(self.cache_dir or osp.join(work_dir, 'clusterfit'))

    def check(self, dataset) -> None:
        """Check what can be checked before any data is read: K against N,
        the source (its file, its ``Pretrained`` init), and that the
        extraction pipeline fits the dataset (clip or image transforms).

        Args:
            dataset: the dataset to cluster.
        """
        self.kmeans.check_size(len(dataset))
        check_source(self.source)
        self.check_extraction(dataset)

    def check_extraction(self, dataset, where: str = '') -> None:
        """Check that the extraction pipeline fits ``dataset`` (clip or
        image transforms), without reading any data.

        Args:
            dataset: the dataset to extract.
            where (str): which dataset, for the message (``' on the val
                split'``). Defaults to ``''``.
        """
        try:
            build_pipeline_for(dataset, self.extract_pipeline)
        except (KeyError, TypeError, ValueError) as e:
            raise type(e)(f'extract_pipeline{where}: {e}') from e

    def fingerprint(self, dataset) -> Tuple[Dict[str, str], np.ndarray]:
        """What the clustering of ``dataset`` depends on, and its classes.

        Args:
            dataset: the dataset to cluster.

        Returns:
            tuple: the fingerprint parts (sample list, source weights and
            model, stage, extraction pipeline, K, k-means and preprocessing
            settings), and the samples' known classes (-1: unknown).
        """
        start = time.perf_counter()
        contents = self.fingerprint_settings.contents
        sample_keys, classes = scan_samples(dataset, contents)
        print_log(
            f'ClusterFit: fingerprint of {len(sample_keys)} samples ' +
            ('by their paths; their contents are not hashed (files '
             'regenerated under the same names reuse the cached labels; '
             "fingerprint=dict(contents='mtime_size' or 'sha256') covers "
             'them)'
             if contents == 'none' else f'by their paths and {contents}') +
            f' ({time.perf_counter() - start:.2f}s).',
            logger='current')
        parts = dict(
            samples=sha256_of([len(sample_keys)] + sample_keys),
            **source_fingerprint(self.source),
            **self.round.fingerprint_parts())
        return parts, classes

    def lookup(self, cache: ClusterCache, parts: Dict[str, str],
               num_samples: int) -> Optional[np.ndarray]:
        """The cached labels of this fingerprint, on every rank.

        Args:
            cache (ClusterCache): the cache.
            parts (dict): the fingerprint parts.
            num_samples (int): N.

        Returns:
            np.ndarray | None: the labels, or None on a miss.
        """
        return rank0_then_broadcast(lambda: cache.lookup(parts, num_samples))

    def restore_round(self, cache: ClusterCache, parts: Dict[str, str],
                      epoch: int, run: str) -> np.ndarray:
        """On resume, the labels of the re-clustering round at ``epoch``
        (a cache made with other settings is reported, and its rounds
        used: they are what the run trained on).

        Args:
            cache (ClusterCache): the cache.
            parts (dict): this config's fingerprint parts.
            epoch (int): the round's epoch.
            run (str): this run's identity (its work directory); a round
                another run wrote is refused.

        Returns:
            np.ndarray: the round's labels, on every rank.
        """
        stale = rank0_then_broadcast(lambda: cache.stale_parts(parts))
        if stale:
            print_log(
                f'ClusterFit: the cache in {cache.directory} was made with '
                f'another {", ".join(stale)} than this config; the run '
                'resumes with the labels its rounds wrote.',
                logger='current',
                level=logging.WARNING)
        labels = rank0_then_broadcast(lambda: cache.load_round(epoch, run))
        print_log(
            f'ClusterFit: resumed the labels of the round at epoch {epoch}.',
            logger='current')
        return labels

    def cluster_source(self, dataset, cache: ClusterCache,
                       parts: Dict[str, str]) -> ClusteringResult:
        """Build the source, extract its features of ``dataset`` on every
        rank and cluster them; rank 0 writes the cache and the diagnostics.

        Args:
            dataset: the dataset to cluster.
            cache (ClusterCache): the cache.
            parts (dict): the fingerprint parts.

        Returns:
            ClusteringResult: the clustering, on every rank.
        """
        if is_main_process():
            cache.drop_other_shards(get_dist_info()[1])
        model = build_source_model(self.source)
        result = self.round.run(model, dataset, self.source.stage, cache,
                                feature_key(parts))
        del model
        gc.collect()
        torch.cuda.empty_cache()  # a no-op without CUDA
        if is_main_process():
            self.save(cache, result, parts)
        return result

    def extract_shard(self,
                      dataset,
                      cache: ClusterCache,
                      parts: Dict[str, str],
                      shard: Optional[Tuple[int, int]] = None) -> FeatureShard:
        """Step 1 offline: extract the source's features of this rank (or
        of ``shard``) into the cache's resumable disk store, kept for
        :meth:`cluster_stored`.

        Args:
            dataset: the dataset to cluster.
            cache (ClusterCache): the cache.
            parts (dict): the fingerprint parts.
            shard (tuple, optional): ``(index, count)`` without a process
                group; defaults to this rank's.

        Returns:
            FeatureShard: the shard's features.
        """
        store = self.round.feature_store
        disk = dataclasses.replace(store, storage='disk', keep=True)
        self.round.feature_store = disk
        try:
            return self.round.extract(
                build_source_model(self.source), dataset, self.source.stage,
                cache, feature_key(parts), shard)
        finally:
            self.round.feature_store = store

    def cluster_stored(self,
                       dataset,
                       cache: ClusterCache,
                       parts: Dict[str, str],
                       classes: np.ndarray,
                       keep_features: bool = False) -> ClusteringResult:
        """Step 2 offline: cluster the features :meth:`extract_shard` wrote
        (every shard), write the cache and the diagnostics, and remove the
        shards unless ``keep_features`` or ``features.keep``.

        Args:
            dataset: the dataset to cluster.
            cache (ClusterCache): the cache.
            parts (dict): the fingerprint parts.
            classes (np.ndarray): the samples' known classes.
            keep_features (bool): keep the shards. Defaults to False.

        Returns:
            ClusteringResult: the clustering.
        """
        shard, stores = load_shards(cache, feature_key(parts), len(dataset),
                                    self.round.feature_store.dtype)
        result = self.round.cluster(shard)
        self.save(cache, result, parts)
        if self.diagnostics is not None:
            self.diagnostics.write(dataset, cache.path('diagnostics'),
                                   result.labels, 'source', classes)
        if not (keep_features or self.round.feature_store.keep):
            for store in stores:
                store.remove()
        return result

    def save(self, cache: ClusterCache, result: ClusteringResult,
             parts: Dict[str, str]) -> None:
        """Write a clustering of the source to the cache, with its manifest.

        Args:
            cache (ClusterCache): where it goes.
            result (ClusteringResult): the clustering.
            parts (dict): its fingerprint parts.
        """
        write_or_explain(
            cache.save,
            result.labels,
            result.centroids,
            parts,
            source=self.source.summary(),
            **self.round.settings(),
            **result.summary())


# The arguments of ClusterFitPipeline (what the hook passes on).
PIPELINE_KEYS = tuple(inspect.signature(ClusterFitPipeline).parameters)


def write_or_explain(save, *args, **kwargs) -> None:
    """Call a cache writer; on an ``OSError`` say which setting moves the
    cache.

    Args:
        save (callable): the writer.
        *args, **kwargs: its arguments.
    """
    try:
        save(*args, **kwargs)
    except OSError as e:
        raise OSError(
            e.errno, f'{e.strerror} (ClusterFit: point the hook\'s cache_dir, '
            'or --work-dir, at a writable disk with room.)') from e
