"""``ClusterFitHook``: pseudo-labels from a source network, before training."""
import copy
import gc
import os.path as osp
import platform
import time
from typing import Dict, List, Optional

import mmengine
import mmpretrain
import numpy as np
import torch
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...clustering import KMeans, check_finite, cluster_size_stats
from ...clustering import kmeans as kmeans_module
from ...clustering import l2_normalize_
from ...datasets import ClusterFitDataset
from ...version import __version__
from ..cache import (ClusterCache, combine_fingerprint, sha256_file,
                     sha256_of)
from ..dist_clustering import cluster_by_index
from ..extractor import (DEFAULT_EXTRACT_PIPELINE, STAGES, build_source_model,
                         extract_features, load_source_config, sample_path,
                         source_summary)


@HOOKS.register_module()
class ClusterFitHook(Hook):
    """Cluster a source network's features and label the training set.

    Before training, the hook looks for a cached clustering with the same
    fingerprint (sample list, source weights and model, stage, extraction
    pipeline, K, k-means settings). On a miss it builds the source network
    frozen in eval mode, extracts features of the wrapped dataset (each rank
    its own shard, by sample index), L2-normalises them, runs seeded k-means
    and writes ``labels.npy``, ``centroids.npy`` and ``manifest.json``
    atomically from rank 0. Then it hands the labels to the
    :class:`ClusterFitDataset` of ``train_dataloader`` on every rank.

    Args:
        num_clusters (int): K. Must equal the head's number of outputs.
        source (dict): the source network: ``config`` (file or
            ``'mmpretrain::...'``) or ``model`` (a model dict),
            ``checkpoint`` (None: randomly initialised with ``init_seed``,
            a baseline) and ``stage`` (``'backbone'``, ``'neck'`` or
            ``'pre_logits'``; defaults to ``'backbone'``).
        extract_pipeline (list[dict], optional): deterministic pipeline for
            extraction. Defaults to resize 256 + center crop 224.
        kmeans (dict, optional): :class:`KMeans` settings (``niter``,
            ``seed``, ``max_points_per_centroid``, ``spherical``,
            ``backend``, ``chunk_size``).
        batch_size (int): extraction batch size. Defaults to 64.
        num_workers (int): extraction DataLoader workers. Defaults to 2.
        l2_normalize (bool): L2-normalise features before k-means.
            Defaults to True.
        amp (bool): autocast extraction on CUDA. Defaults to False.
        cache_dir (str, optional): where results live. Defaults to
            ``{work_dir}/clusterfit``.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 num_clusters: int,
                 source: dict,
                 extract_pipeline: Optional[List[dict]] = None,
                 kmeans: Optional[dict] = None,
                 batch_size: int = 64,
                 num_workers: int = 2,
                 l2_normalize: bool = True,
                 amp: bool = False,
                 cache_dir: Optional[str] = None):
        source = dict(source)
        source.setdefault('stage', 'backbone')
        source.setdefault('checkpoint', None)
        if (source.get('config') is None) == (source.get('model') is None):
            raise ValueError('ClusterFitHook source needs exactly one of '
                             "config='path/or/pkg::config.py' or "
                             'model=dict(type=...).')
        if source['stage'] not in STAGES:
            raise ValueError(f"ClusterFitHook source stage="
                             f"{source['stage']!r} is unknown; use one of "
                             f'{STAGES}.')
        self.num_clusters = int(num_clusters)
        self.source = source
        self.extract_pipeline = copy.deepcopy(
            extract_pipeline or DEFAULT_EXTRACT_PIPELINE)
        self.kmeans = KMeans(self.num_clusters, **(kmeans or {}))
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.l2_normalize = l2_normalize
        self.amp = amp
        self.cache_dir = cache_dir

    def before_run(self, runner) -> None:
        """Check the setup before anything runs, and give the dataset K.

        Setting K here keeps the dataset's metainfo equal to the one a
        resumed checkpoint recorded.

        Args:
            runner (Runner): the runner.
        """
        dataset = self._find_dataset(runner)
        self._check_head(runner)
        self.kmeans.check_size(len(dataset))
        self._check_source_checkpoint()
        dataset.num_clusters = self.num_clusters

    def before_train(self, runner) -> None:
        """Find or build the labels and give them to the dataset.

        Args:
            runner (Runner): the runner.
        """
        dataset = self._find_dataset(runner)
        num_samples = len(dataset)
        cache = ClusterCache(self.cache_dir
                             or osp.join(runner.work_dir, 'clusterfit'))
        parts = self._fingerprint_parts(dataset.dataset)
        fingerprint = combine_fingerprint(parts)

        found = [None]
        if get_dist_info()[0] == 0:
            hit = cache.load(fingerprint, num_samples)
            if hit is not None:
                found = [hit[0]]
                runner.logger.info(
                    f'ClusterFitHook: reusing {cache.path("labels.npy")} '
                    f'(fingerprint {fingerprint[:12]}, N={num_samples}, '
                    f'K={self.num_clusters}); no extraction, no k-means.')
            else:
                stale = cache.stale_parts(parts)
                if stale:
                    runner.logger.warning(
                        f'ClusterFitHook: the cache in {cache.directory} was '
                        f'made with another {", ".join(stale)}; it is not '
                        'used and will be replaced.')
        broadcast_object_list(found, src=0)
        labels = found[0]
        if dataset.label_file is not None:
            runner.logger.warning(
                f'ClusterFitHook replaces the labels of label_file='
                f'{dataset.label_file!r} with its own clustering.')
        if labels is None:
            labels = self._cluster(runner, dataset, parts, fingerprint,
                                   cache)
        dataset.set_labels(labels, self.num_clusters)

    def _find_dataset(self, runner) -> ClusterFitDataset:
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, ClusterFitDataset):
            raise TypeError(
                'ClusterFitHook labels a ClusterFitDataset, but '
                f'train_dataloader.dataset is {type(dataset).__name__}. Wrap '
                "it: dataset=dict(type='ClusterFitDataset', dataset=dict("
                'type=...)).')
        return dataset

    def _check_head(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, 'head', None)
        outputs = getattr(head, 'num_classes', None)
        if outputs is None and isinstance(
                getattr(head, 'fc', None), torch.nn.Linear):
            outputs = head.fc.out_features
        if outputs is None:
            raise ValueError(
                f'ClusterFitHook cannot find the number of outputs of '
                f'model.head ({type(head).__name__}); use '
                f"head=dict(type='ClusterFitHead', "
                f'num_clusters={self.num_clusters}, ...).')
        if outputs != self.num_clusters:
            raise ValueError(
                f'model.head has {outputs} outputs but ClusterFitHook has '
                f'num_clusters={self.num_clusters}. Set the same K in both: '
                f'model.head.num_clusters={self.num_clusters} (or the '
                f'hook\'s num_clusters={outputs}).')

    def _check_source_checkpoint(self) -> None:
        checkpoint = self.source['checkpoint']
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'ClusterFitHook source checkpoint {checkpoint!r} does not '
                'exist. Give the path of the source network\'s .pth file '
                '(source.checkpoint=...).')

    def _fingerprint_parts(self, inner) -> Dict[str, str]:
        checkpoint = self.source['checkpoint']
        samples = [len(inner)]
        for i in range(len(inner)):
            info = inner.get_data_info(i)
            samples.append(sample_path(info) or {
                k: v
                for k, v in info.items() if k not in ('gt_label',
                                                      'sample_idx')
            })
        weights = (sha256_file(checkpoint) if checkpoint is not None else
                   f"random-init seed={self.source.get('init_seed', 0)}")
        return dict(
            samples=sha256_of(samples),
            source_weights=weights,
            source_model=sha256_of(load_source_config(self.source)),
            stage=self.source['stage'],
            extract_pipeline=sha256_of(self.extract_pipeline),
            num_clusters=str(self.num_clusters),
            kmeans=sha256_of(self.kmeans.params()),
            l2_normalize=str(self.l2_normalize))

    def _cluster(self, runner, dataset: ClusterFitDataset, parts: dict,
                 fingerprint: str, cache: ClusterCache) -> np.ndarray:
        rank, world_size = get_dist_info()
        num_samples = len(dataset)
        timings = {}
        start = time.perf_counter()
        runner.logger.info(
            f'ClusterFitHook: extracting {self.source["stage"]} features of '
            f'{num_samples} samples ({world_size} rank(s)) with the source '
            f'{self.source.get("config") or self.source["model"]["type"]}.')
        model = build_source_model(self.source)
        indices = np.arange(rank, num_samples, world_size, dtype=np.int64)
        features = extract_features(
            model,
            dataset.dataset,
            self.extract_pipeline,
            indices,
            self.source['stage'],
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            amp=self.amp,
            progress=rank == 0)
        del model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        check_finite(features, indices, 'the source network')
        if self.l2_normalize:
            l2_normalize_(features)
        timings['extract_s'] = time.perf_counter() - start

        start = time.perf_counter()
        runner.logger.info(
            f'ClusterFitHook: k-means K={self.num_clusters} on '
            f'{features.shape[1]}-d features ({self.kmeans.backend}).')
        labels, centroids, stats = cluster_by_index(features, indices,
                                                    num_samples, self.kmeans)
        timings['kmeans_fit_s'] = stats['fit_seconds']
        timings['kmeans_total_s'] = time.perf_counter() - start
        sizes = cluster_size_stats(labels, self.num_clusters)
        runner.logger.info(
            f'ClusterFitHook: objective {stats["objective"]:.6g} '
            f'(mean {stats["objective"] / num_samples:.4g}); cluster sizes '
            f'min {sizes["min"]} / median {sizes["median"]:g} / max '
            f'{sizes["max"]}, {sizes["empty"]} empty; '
            f'extraction {timings["extract_s"]:.1f}s, k-means '
            f'{timings["kmeans_total_s"]:.1f}s.')
        if rank == 0:
            cache.save(
                labels, centroids,
                self._manifest(fingerprint, parts, num_samples,
                               centroids.shape[1], stats, sizes, timings,
                               world_size))
            runner.logger.info(f'ClusterFitHook: wrote {cache.directory}.')
        barrier()
        return labels

    def _manifest(self, fingerprint: str, parts: dict, num_samples: int,
                  dim: int, stats: dict, sizes: dict, timings: dict,
                  world_size: int) -> dict:
        versions = dict(
            clusterfit_plugin=__version__,
            python=platform.python_version(),
            torch=torch.__version__,
            mmengine=mmengine.__version__,
            mmpretrain=mmpretrain.__version__,
            numpy=np.__version__)
        if kmeans_module.faiss is not None:
            versions['faiss'] = kmeans_module.faiss.__version__
        return dict(
            fingerprint=fingerprint,
            fingerprint_parts=parts,
            num_samples=num_samples,
            num_clusters=self.num_clusters,
            feature_dim=dim,
            source=source_summary(self.source),
            extract_pipeline=self.extract_pipeline,
            l2_normalize=self.l2_normalize,
            kmeans=dict(self.kmeans.params(), backend=self.kmeans.backend),
            objective=stats['objective'],
            mean_sq_distance=stats['objective'] / num_samples,
            fit_objective=stats['fit_objective'],
            fit_size=stats['fit_size'],
            cluster_size=sizes,
            timings=timings,
            world_size=world_size,
            versions=versions,
            created=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
