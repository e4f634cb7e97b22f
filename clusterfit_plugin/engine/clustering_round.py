# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""One clustering round: extract a model's features, fit k-means, label all.

Each rank extracts its own samples (``rank, rank + W, ...``) into a
:class:`FeatureStore` (in memory, or resumable on disk in a
:class:`ClusterCache`), rank 0 fits the preprocessing and the centroids on
the seeded sample, every rank assigns its samples, and the labels are
gathered by sample index (:func:`cluster_by_index`). No Runner is needed.
"""
import logging
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging import print_log

from ..clustering import (DiskFeatures, FeatureStore, KMeans, Preprocessor,
                          cluster_size_stats)
from ..fileio import sha256_of
from ..settings import as_bool, as_float, as_int
from .cache import ClusterCache
from .dist_clustering import cluster_by_index
from .extractor import extract_features
from .rank_protocol import all_ranks_done
from .settings import FeatureStoreSettings, PCASettings, parse_optional


@dataclass
class FeatureShard:
    """The features one process extracted, by dataset index.

    Attributes:
        features (np.ndarray | DiskFeatures): (n, D) features, in the order
            of ``indices``.
        indices (np.ndarray): (n,) int64 dataset indices.
        num_samples (int): N, the dataset's size.
        store (FeatureStore): where the features are (for removal).
        extract_s (float): seconds the extraction took.
    """
    features: Union[np.ndarray, DiskFeatures]
    indices: np.ndarray
    num_samples: int
    store: FeatureStore
    extract_s: float = 0.0


@dataclass
class ClusteringResult:
    """The outcome of a clustering round, the same on every rank.

    Attributes:
        labels (np.ndarray): (N,) int64 cluster id of every sample.
        centroids (np.ndarray): (K, D') float32 centroids.
        objective (float): sum of squared distances of all N samples.
        fit_objective (float): the same over the fitting sample.
        fit_size (int): samples the centroids were fitted on.
        fit_iterations (int): k-means iterations run.
        sizes (dict): cluster size ``min`` / ``median`` / ``max`` /
            ``empty``.
        timings (dict): ``extract_s``, ``kmeans_fit_s``, ``kmeans_total_s``.
        world_size (int): the ranks that took part.
    """
    labels: np.ndarray
    centroids: np.ndarray
    objective: float
    fit_objective: float
    fit_size: int
    fit_iterations: int
    sizes: Dict[str, float]
    timings: Dict[str, float]
    world_size: int

    def summary(self) -> dict:
        """What a manifest records of the result (all but the arrays).

        Returns:
            dict: sizes, objectives, iterations, timings, world size.
        """
        num_samples = len(self.labels)
        return dict(
            num_samples=num_samples,
            feature_dim=int(self.centroids.shape[1]),
            objective=self.objective,
            mean_sq_distance=self.objective / num_samples,
            fit_objective=self.fit_objective,
            fit_size=self.fit_size,
            fit_iterations=self.fit_iterations,
            cluster_size=self.sizes,
            timings=self.timings,
            world_size=self.world_size)


class ClusteringRound:
    """Cluster a model's features of a dataset into K groups.

    Args:
        kmeans (KMeans): the configured k-means (K, iterations, seed,
            backend, ...).
        extract_pipeline (list[dict]): deterministic extraction pipeline.
        batch_size (int): extraction batch size. Defaults to 64.
        num_workers (int): extraction DataLoader workers. Defaults to 2.
        l2_normalize (bool): L2-normalise features before k-means.
            Defaults to True.
        pca (dict | PCASettings, optional): ``dim`` and ``whiten`` (default
            True): PCA before L2, fitted on the k-means sample (see
            :class:`PCASettings`). Defaults to None.
        features (dict | FeatureStoreSettings, optional): the feature
            store: ``storage`` (``'memory'``, or ``'disk'``: one resumable
            memory-mapped file per rank in the cache), ``dtype``
            (``'float32'`` or ``'float16'``), ``keep`` (keep the disk files
            after the round) and ``flush_every`` (rows between progress
            records); see :class:`FeatureStoreSettings`. Defaults to its
            defaults.
        amp (bool): autocast extraction on CUDA. Defaults to False.
        channels_last (bool): channels-last inputs and weights for
            extraction, on any device. Defaults to False.
        wait_poll_s (float): the other ranks' wait slices while rank 0
            fits. Defaults to 60.
    """

    def __init__(self,
                 kmeans: KMeans,
                 extract_pipeline: List[dict],
                 batch_size: int = 64,
                 num_workers: int = 2,
                 l2_normalize: bool = True,
                 pca: Optional[Union[dict, PCASettings]] = None,
                 features: Optional[Union[dict, FeatureStoreSettings]] = None,
                 amp: bool = False,
                 channels_last: bool = False,
                 wait_poll_s: float = 60.0):
        self.feature_store = FeatureStoreSettings.parse(features or {})
        self.pca = parse_optional(PCASettings, pca)
        self.kmeans = kmeans
        self.extract_pipeline = extract_pipeline
        self.batch_size = as_int(batch_size, 'batch_size', 1)
        self.num_workers = as_int(num_workers, 'num_workers', 0)
        self.l2_normalize = as_bool(l2_normalize, 'l2_normalize')
        self.amp = as_bool(amp, 'amp')
        self.channels_last = as_bool(channels_last, 'channels_last')
        self.wait_poll_s = as_float(wait_poll_s, 'wait_poll_s', 1e-3)

    def fingerprint_parts(self) -> Dict[str, str]:
        """Digests of the settings that determine the labels (beside the
        samples and the source).

        Returns:
            dict: part name -> digest.
        """
        return dict(
            extract_pipeline=sha256_of(self.extract_pipeline),
            num_clusters=str(self.kmeans.num_clusters),
            kmeans=sha256_of(self.kmeans.params()),
            l2_normalize=str(self.l2_normalize),
            feature_dtype=self.feature_store.dtype,
            pca=sha256_of(None if self.pca is None else self.pca.to_dict()))

    def settings(self) -> dict:
        """The settings, as a manifest records them.

        Returns:
            dict: K, extraction pipeline, preprocessing, feature store and
            k-means settings.
        """
        return dict(
            num_clusters=self.kmeans.num_clusters,
            extract_pipeline=self.extract_pipeline,
            l2_normalize=self.l2_normalize,
            pca=None if self.pca is None else self.pca.to_dict(),
            features=self.feature_store.to_dict(),
            kmeans=dict(self.kmeans.params(), backend=self.kmeans.backend))

    def _check_dim(self, dim: int) -> None:
        """Reject a PCA dimension above the features' (at the first batch,
        not after the whole extraction)."""
        if self.pca is not None and self.pca.dim > dim:
            raise ValueError(
                f'pca.dim={self.pca.dim} exceeds the {dim}-d features of '
                f'the source; set pca=dict(dim=...) to at most {dim}, or '
                'pca=None.')

    def _store(self, num_rows: int, cache: Optional[ClusterCache],
               key: Optional[str], rank: int, world_size: int) -> FeatureStore:
        store = self.feature_store
        if store.storage == 'memory' or cache is None:
            return FeatureStore(
                num_rows, store.dtype, check_dim=self._check_dim)
        return cache.feature_store(num_rows, store.dtype, key, rank,
                                   world_size, store.flush_every,
                                   self._check_dim)

    def extract(self,
                model: torch.nn.Module,
                dataset,
                stage: str,
                cache: Optional[ClusterCache] = None,
                feature_key: Optional[str] = None,
                shard: Optional[Tuple[int, int]] = None,
                round_id: int = 0) -> FeatureShard:
        """Extract the features of this rank's samples.

        Args:
            model (nn.Module): the frozen, eval-mode network.
            dataset: an mmengine dataset (``get_data_info``).
            stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.
            cache (ClusterCache, optional): holds the disk feature store
                (``features.storage='disk'``); without it features stay in
                memory.
            feature_key (str, optional): fingerprint of the features, so
                that an interrupted extraction resumes only its own rows.
            shard (tuple, optional): ``(index, count)``: extract the samples
                ``index, index + count, ...`` as that shard, without a
                process group. Defaults to this rank's shard.
            round_id (int): distinguishes successive rounds' store keys.

        Returns:
            FeatureShard: the features, their dataset indices and the time.
        """
        rank, world_size = shard or get_dist_info()
        num_samples = len(dataset)
        start = time.perf_counter()
        indices = np.arange(rank, num_samples, world_size, dtype=np.int64)
        store = self._store(len(indices), cache, feature_key, rank, world_size)
        print_log(
            f'extracting {stage} features of {num_samples} samples '
            f'(shard {rank} of {world_size}) with {type(model).__name__}' +
            (f'; resuming after {store.rows_done} rows already on disk'
             if store.rows_done else '') + '.',
            logger='current')

        def step():
            return extract_features(
                model,
                dataset,
                self.extract_pipeline,
                indices,
                stage,
                store=store,
                batch_size=self.batch_size,
                num_workers=self.num_workers,
                amp=self.amp,
                channels_last=self.channels_last,
                progress=rank == 0)

        # Across ranks (not for an explicit shard): a failed extraction on
        # any rank ends every rank, not only its own.
        features = step() if shard else all_ranks_done(
            step, 'extraction', round_id, self.wait_poll_s)
        return FeatureShard(features, indices, num_samples, store,
                            time.perf_counter() - start)

    def cluster(self,
                shard: FeatureShard,
                round_id: int = 0) -> ClusteringResult:
        """Fit k-means on the ranks' features and label every sample.

        Args:
            shard (FeatureShard): this rank's features (or, in one process,
                all of them).
            round_id (int): distinguishes successive rounds' store keys.

        Returns:
            ClusteringResult: labels, centroids and statistics.
        """
        num_samples = shard.num_samples
        start = time.perf_counter()
        hint = ''
        if self.kmeans.backend == 'faiss-cpu' and torch.cuda.is_available():
            hint = ("; kmeans=dict(backend='torch') or 'auto' runs k-means "
                    'on CUDA')
        print_log(
            f'k-means K={self.kmeans.num_clusters} on '
            f'{shard.features.shape[1]}-d features ({self.kmeans.backend}'
            f'{hint}).',
            logger='current')
        preprocessor = Preprocessor(
            pca_dim=None if self.pca is None else self.pca.dim,
            whiten=True if self.pca is None else self.pca.whiten,
            l2_normalize=self.l2_normalize)
        labels, fit = cluster_by_index(
            shard.features,
            shard.indices,
            num_samples,
            self.kmeans,
            preprocessor,
            round_id=round_id,
            wait_poll_s=self.wait_poll_s)
        result = ClusteringResult(
            labels=labels,
            centroids=fit.centroids,
            objective=fit.objective,
            fit_objective=fit.fit_objective,
            fit_size=fit.fit_size,
            fit_iterations=fit.fit_iterations,
            sizes=cluster_size_stats(labels, self.kmeans.num_clusters),
            timings=dict(
                extract_s=shard.extract_s,
                kmeans_fit_s=fit.fit_seconds,
                kmeans_total_s=time.perf_counter() - start),
            world_size=get_dist_info()[1])
        sizes = result.sizes
        if sizes['max'] == num_samples and self.kmeans.num_clusters > 1:
            print_log(
                f'every one of the {num_samples} samples is in one cluster: '
                'the features do not vary (all equal or all zero). Check the '
                'source checkpoint and the extract pipeline (constant '
                'inputs?); these labels carry no information.',
                logger='current',
                level=logging.WARNING)
        print_log(
            f'objective {result.objective:.6g} (mean '
            f'{result.objective / num_samples:.4g}); cluster sizes min '
            f'{sizes["min"]} / median {sizes["median"]:g} / max '
            f'{sizes["max"]}, {sizes["empty"]} empty; extraction '
            f'{shard.extract_s:.1f}s, k-means '
            f'{result.timings["kmeans_total_s"]:.1f}s '
            f'({result.fit_iterations} of {self.kmeans.niter} iterations).',
            logger='current')
        return result

    def run(self,
            model: torch.nn.Module,
            dataset,
            stage: str,
            cache: Optional[ClusterCache] = None,
            feature_key: Optional[str] = None,
            round_id: int = 0) -> ClusteringResult:
        """Extract ``model``'s features of ``dataset`` and cluster them
        (:meth:`extract` then :meth:`cluster`; the disk store is removed
        afterwards unless ``features.keep``).

        Args:
            model (nn.Module): the frozen, eval-mode network.
            dataset: an mmengine dataset (``get_data_info``).
            stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.
            cache (ClusterCache, optional): see :meth:`extract`.
            feature_key (str, optional): see :meth:`extract`.
            round_id (int): distinguishes successive rounds' store keys.

        Returns:
            ClusteringResult: labels, centroids and statistics.
        """
        shard = self.extract(
            model, dataset, stage, cache, feature_key, round_id=round_id)
        result = self.cluster(shard, round_id)
        if not self.feature_store.keep:
            shard.store.remove()
        return result
