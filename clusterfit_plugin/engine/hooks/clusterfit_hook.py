# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ClusterFitHook``: pseudo-labels from a source network, before training."""
import copy
import gc
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import HOOKS

from ...clustering import KMeans, normalized_mutual_info
from ...datasets import ClusterFitDataset, scan_samples
from ...datasets.transforms import build_pipeline
from ...fileio import sha256_file, sha256_of
from ...models.heads import (num_outputs, reset_classifier,
                             weight_loss_by_cluster_size)
from ...visualization import to_tile, write_diagnostics
from ..cache import ClusterCache, feature_key, round_file
from ..clustering_round import ClusteringRound
from ..dist_clustering import rank0_then_broadcast
from ..extractor import (DEFAULT_EXTRACT_PIPELINE, STAGES, build_source_model,
                         check_checkpoint, check_source, load_source_config,
                         source_summary)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(f'ClusterFitHook {message}')


@HOOKS.register_module()
class ClusterFitHook(Hook):
    """Cluster a source network's features and label the training set.

    Before training, the hook looks for a cached clustering with the same
    fingerprint (sample list, source weights and model, stage, extraction
    pipeline, K, k-means and preprocessing settings). On a miss it builds
    the source network as the Runner would, frozen in eval mode, runs a
    :class:`ClusteringRound` (each rank extracts its own samples, rank 0
    fits seeded k-means, labels gathered by sample index) and writes the
    cache from rank 0. Then it hands the labels to the
    :class:`ClusterFitDataset` of ``train_dataloader`` on every rank.

    Args:
        num_clusters (int): K. Must equal the head's number of outputs.
        source (dict): ``config`` (file or ``'mmpretrain::...'``) or
            ``model`` (a model dict); ``checkpoint`` (None: randomly
            initialised with ``init_seed``, default 0, a baseline);
            ``stage`` (``'backbone'``, ``'neck'`` or ``'pre_logits'``;
            default ``'backbone'``).
        extract_pipeline (list[dict], optional): deterministic extraction
            pipeline. Defaults to resize 256 + center crop 224.
        kmeans (dict, optional): :class:`KMeans` settings: ``niter`` (20),
            ``early_stop_threshold`` (0.0), ``seed`` (0), ``init``
            (``'random'`` or ``'kmeans++'``), ``init_points_per_centroid``,
            ``max_points_per_centroid`` (256), ``spherical``, ``backend``
            (``'auto'``), ``chunk_size``, ``verbose``.
        batch_size, num_workers (int): of the extraction DataLoader.
            Default to 64 and 2.
        l2_normalize (bool): L2-normalise features before k-means (True).
        amp (bool): autocast extraction on CUDA (False).
        cache_dir (str, optional): defaults to ``{work_dir}/clusterfit``.
        interval (int): re-cluster with the trained model every ``interval``
            epochs; 0 (default) clusters once.
        recluster_stage (str): the trained model's stage (``'backbone'``).
        reweight_loss (bool): weight the loss by 1 / cluster size (False).
        features (dict, optional): ``storage`` (``'memory'`` or ``'disk'``:
            a resumable memory-mapped file per rank), ``dtype``
            (``'float32'`` or ``'float16'``), ``keep`` (keep disk files) and
            ``flush_every`` (rows between progress records, 8192).
        pca (dict, optional): ``dim`` and ``whiten`` (True): PCA before L2,
            fitted on the k-means sample. Defaults to None.
        channels_last (bool): channels-last extraction on CUDA (False).
        wait_poll_s (float): wait slices of the other ranks while rank 0
            fits (each logged). Defaults to 60.
        diagnostics (dict, optional): ``grid_clusters`` and ``per_cluster``
            of the sample grid written with the scores to
            ``{cache_dir}/diagnostics/`` and the visualizer; None turns it
            off. Defaults to ``dict(grid_clusters=8, per_cluster=8)``.
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
                 cache_dir: Optional[str] = None,
                 interval: int = 0,
                 recluster_stage: str = 'backbone',
                 reweight_loss: bool = False,
                 features: Optional[dict] = None,
                 pca: Optional[dict] = None,
                 channels_last: bool = False,
                 wait_poll_s: float = 60.0,
                 diagnostics: Optional[dict] = dict(
                     grid_clusters=8, per_cluster=8)):
        _check(int(interval) >= 0,
               f'interval={interval} must be >= 0 (0: cluster once).')
        _check(recluster_stage in STAGES, f'recluster_stage='
               f'{recluster_stage!r} is unknown; use one of {STAGES}.')
        self.num_clusters = int(num_clusters)
        self.source = check_source(source)
        self.extract_pipeline = copy.deepcopy(
            extract_pipeline or DEFAULT_EXTRACT_PIPELINE)
        self.kmeans = KMeans(self.num_clusters, **(kmeans or {}))
        self.round = ClusteringRound(self.kmeans, self.extract_pipeline,
                                     batch_size, num_workers, l2_normalize,
                                     pca, features, amp, channels_last,
                                     wait_poll_s)
        self.cache_dir = cache_dir
        self.interval = int(interval)
        self.recluster_stage = recluster_stage
        self.reweight_loss = reweight_loss
        self.diagnostics = diagnostics
        self._labels: Optional[np.ndarray] = None
        self._classes: Optional[np.ndarray] = None

    def before_run(self, runner) -> None:
        """Check the setup before anything runs, and give the dataset K
        (so its metainfo equals the one a resumed checkpoint recorded)."""
        dataset = self._find_dataset(runner)
        head = self._head(runner)
        outputs = num_outputs(head)
        _check(outputs is not None,
               'cannot find the number of outputs of model.head '
               f"({type(head).__name__}); use head=dict(type='ClusterFitHead'"
               f', num_clusters={self.num_clusters}, ...).')
        if outputs != self.num_clusters:
            raise ValueError(
                f'model.head has {outputs} outputs but ClusterFitHook has '
                f'num_clusters={self.num_clusters}. Set the same K in both '
                f'(model.head.num_clusters={self.num_clusters}, or the '
                f"hook's num_clusters={outputs}), or use tools/train.py "
                '--num-clusters K.')
        self.kmeans.check_size(len(dataset))
        check_checkpoint(self.source)
        dataset.num_clusters = self.num_clusters

    def before_train(self, runner) -> None:
        """Find or build the labels and give them to the dataset."""
        dataset = self._find_dataset(runner)
        cache = self._cache(runner)
        sample_keys, self._classes = scan_samples(dataset.dataset)
        parts = self._fingerprint_parts(sample_keys)
        labels = rank0_then_broadcast(
            lambda: cache.lookup(parts, len(dataset)))
        if dataset.label_file is not None:
            runner.logger.warning(
                f'ClusterFitHook replaces the labels of label_file='
                f'{dataset.label_file!r} with its own clustering.')
        if labels is None:
            model = build_source_model(self.source)
            result = self.round.run(model, dataset.dataset,
                                    self.source['stage'], cache,
                                    feature_key(parts))
            del model
            gc.collect()
            torch.cuda.empty_cache()  # a no-op without CUDA
            labels = result.labels
            if is_main_process():
                self._write(cache.save, labels, result.centroids, parts,
                            source=source_summary(self.source),
                            **self.round.settings(), **result.summary())
                runner.logger.info(f'ClusterFitHook: wrote {cache.directory}.')
                self._diagnose(runner, cache, labels, 'source')
            barrier()
        elif self.interval and runner.epoch > 0:
            labels = self._restore_round(runner, cache, labels)
        self._apply_labels(runner, dataset, labels)

    def before_train_epoch(self, runner) -> None:
        """Every ``interval`` epochs, re-cluster with the model being
        trained."""
        epoch = runner.epoch
        if not self.interval or epoch == 0 or epoch % self.interval:
            return
        dataset = self._find_dataset(runner)
        model = self._model(runner)
        runner.logger.info(f'ClusterFitHook: round at epoch {epoch}: '
                           're-clustering with the model being trained.')
        model.eval()
        try:
            labels = self.round.run(model, dataset.dataset,
                                    self.recluster_stage,
                                    round_id=epoch).labels
        finally:
            model.train()
        if is_main_process():
            cache = self._cache(runner)
            self._write(cache.save_round, epoch, labels)
            self._diagnose(runner, cache, labels, f'epoch{epoch}', False)
        barrier()
        nmi = normalized_mutual_info(self._labels, labels)
        runner.message_hub.update_scalar('train/clusterfit_nmi', nmi)
        runner.logger.info(f'ClusterFitHook: NMI with the previous round '
                           f'{nmi:.4f}; wrote {round_file(epoch)}.')
        self._reset_head(runner, epoch)
        self._apply_labels(runner, dataset, labels)

    @staticmethod
    def _write(save, *args, **kwargs) -> None:
        """Call a cache writer; say which setting moves the cache."""
        try:
            save(*args, **kwargs)
        except OSError as e:
            raise OSError(
                e.errno, f'{e.strerror} (ClusterFitHook: point its cache_dir, '
                'or --work-dir, at a writable disk with room.)') from e

    def _cache(self, runner) -> ClusterCache:
        return ClusterCache(self.cache_dir
                            or osp.join(runner.work_dir, 'clusterfit'))

    def _restore_round(self, runner, cache: ClusterCache,
                       labels: np.ndarray) -> np.ndarray:
        """On resume, the labels of the last round before ``runner.epoch``
        (a round due at ``runner.epoch`` itself is redone)."""
        last = (runner.epoch - 1) // self.interval * self.interval
        if last <= 0:
            return labels
        labels = rank0_then_broadcast(lambda: cache.load_round(last))
        runner.logger.info(f'ClusterFitHook: resumed the labels of the '
                           f'round at epoch {last}.')
        return labels

    def _find_dataset(self, runner) -> ClusterFitDataset:
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, ClusterFitDataset):
            raise TypeError(
                'ClusterFitHook labels a ClusterFitDataset, but '
                f'train_dataloader.dataset is {type(dataset).__name__}. Wrap '
                "it: dataset=dict(type='ClusterFitDataset', dataset=dict("
                'type=...)).')
        return dataset

    def _fingerprint_parts(self, sample_keys: list) -> Dict[str, str]:
        checkpoint = self.source['checkpoint']
        weights = (sha256_file(checkpoint) if checkpoint is not None else
                   f"random-init seed={self.source.get('init_seed', 0)}")
        return dict(
            samples=sha256_of([len(sample_keys)] + sample_keys),
            source_weights=weights,
            source_model=sha256_of(load_source_config(self.source)),
            stage=self.source['stage'],
            **self.round.fingerprint_parts())

    def _diagnose(self, runner, cache: ClusterCache, labels: np.ndarray,
                  tag: str, pictures: bool = True) -> None:
        """Scores (and pictures) of a clustering, on rank 0."""
        if self.diagnostics is None:
            return
        inner = self._find_dataset(runner).dataset
        pipeline = build_pipeline(self.extract_pipeline)
        write_diagnostics(
            labels, self._classes, self.num_clusters,
            cache.path('diagnostics'), tag,
            (lambda i: to_tile(pipeline(inner.get_data_info(i))['inputs']))
            if pictures else None, self.diagnostics.get('grid_clusters', 8),
            self.diagnostics.get('per_cluster', 8), runner.visualizer,
            runner.epoch)

    def _apply_labels(self, runner, dataset: ClusterFitDataset,
                      labels: np.ndarray) -> None:
        dataset.set_labels(labels, self.num_clusters)
        self._labels = labels
        if self.reweight_loss:
            weight_loss_by_cluster_size(self._head(runner), labels,
                                        self.num_clusters)

    def _reset_head(self, runner, epoch: int) -> None:
        """Re-initialise the classifier (seeded, the same on every rank) and
        drop its optimizer state (momentum)."""
        params = reset_classifier(self._head(runner),
                                  self.kmeans.seed * 100003 + epoch)
        wrappers = (runner.optim_wrapper.values() if isinstance(
            runner.optim_wrapper, OptimWrapperDict) else
                    [runner.optim_wrapper])
        for wrapper in wrappers:
            for param in params:
                wrapper.optimizer.state.pop(param, None)

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        """The model being trained, unwrapped from DDP and the like."""
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _head(self, runner):
        return getattr(self._model(runner), 'head', None)
