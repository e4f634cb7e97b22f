# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ClusterFitHook``: pseudo-labels from a source network, before training."""
import copy
import gc
import logging
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...clustering import KMeans, normalized_mutual_info
from ...datasets import ClusterFitDataset, scan_samples
from ...datasets.transforms import build_pipeline_for
from ...fileio import sha256_of
from ...models.heads import (check_num_outputs, check_preprocessor_classes,
                             reset_classifier, weight_loss_by_cluster_size)
from ...settings import as_bool, as_choice, as_int
from ...visualization import replay_diagnostics, to_tile, write_diagnostics
from ..cache import ClusterCache, feature_key, round_file
from ..clustering_round import ClusteringResult, ClusteringRound
from ..dist_clustering import rank0_then_broadcast
from ..extractor import DEFAULT_EXTRACT_PIPELINE
from ..settings import (STAGES, DiagnosticsSettings, FingerprintSettings,
                        parse_optional)
from ..source import (build_source_model, check_source, parse_source,
                      source_fingerprint)


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
        source (dict): the source network (:class:`SourceSettings`).
            ``config``: its config file or ``'mmpretrain::...'``, built as
            the Runner builds it (top-level ``data_preprocessor`` merged
            into ``model``, the normalisation checked against the config);
            or ``model``: a model dict. ``checkpoint`` (required): its
            weights (every parameter of the modules ``stage`` uses, with
            the right shape), in the layout ``checkpoint_format`` names
            (``'auto'``: detected; VISSL, torchvision and MoCo checkpoints
            are read too); ``checkpoint=None`` (or ``init='random'``)
            clusters a random init seeded by ``init_seed``, on purpose
            only. ``stage``: ``'backbone'`` (default), ``'neck'`` or
            ``'pre_logits'``; see :func:`forward_features` for the pooling.
        extract_pipeline (list[dict], optional): deterministic extraction
            pipeline. Defaults to resize 256 + center crop 224.
        kmeans (dict, optional): arguments of :class:`KMeans` (``niter``,
            ``early_stop_threshold``, ``init``, ``seed``, ``backend``, ...),
            documented there with their defaults; not K.
        batch_size, num_workers, l2_normalize, amp, features, pca,
            channels_last, wait_poll_s: arguments of
            :class:`ClusteringRound`, documented there with their defaults.
        cache_dir (str, optional): defaults to ``{work_dir}/clusterfit``.
        interval (int): re-cluster with the trained model every ``interval``
            epochs; 0 (default) clusters once.
        recluster_stage (str): the trained model's stage (``'backbone'``).
        reweight_loss (bool): weight the loss by 1 / cluster size (False).
        fingerprint (dict, optional): ``contents``: how much of each sample
            file the fingerprint covers: ``'none'`` (default: the paths
            only, so files regenerated under the same names reuse the
            cached labels; the log says so), ``'mtime_size'`` (one ``stat``
            per file) or ``'sha256'`` (reads every file once per run)
            (:class:`FingerprintSettings`).
        diagnostics (dict, optional): ``grid_clusters`` and ``per_cluster``
            of the sample grid written with the scores to
            ``{cache_dir}/diagnostics/`` and the visualizer (see
            :func:`write_diagnostics`, :class:`DiagnosticsSettings`); None
            turns it off. Defaults to ``dict(grid_clusters=8,
            per_cluster=8)``.

    Every dict argument is parsed into its settings object here: an unknown
    key is an error that names it and the closest accepted one.
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
                 fingerprint: Optional[dict] = None,
                 diagnostics: Optional[dict] = dict(
                     grid_clusters=8, per_cluster=8)):
        try:
            self.num_clusters = as_int(num_clusters, 'num_clusters', 2)
            self.interval = as_int(interval, 'interval (0: cluster once)', 0)
            self.recluster_stage = as_choice(recluster_stage,
                                             'recluster_stage', STAGES)
            self.reweight_loss = as_bool(reweight_loss, 'reweight_loss')
            self.source = parse_source(source)
            self.kmeans = KMeans.from_config(self.num_clusters, kmeans)
            self.fingerprint_settings = FingerprintSettings.parse(fingerprint
                                                                  or {})
            self.diagnostics = parse_optional(DiagnosticsSettings, diagnostics)
            self.extract_pipeline = copy.deepcopy(extract_pipeline
                                                  or DEFAULT_EXTRACT_PIPELINE)
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
        except (TypeError, ValueError) as e:
            raise type(e)(f'ClusterFitHook {e}') from e
        self.cache_dir = cache_dir
        self._labels: Optional[np.ndarray] = None
        self._classes: Optional[np.ndarray] = None

    def before_run(self, runner) -> None:
        """Check the setup before anything runs, lock the cache directory
        (rank 0; it is created and checked for writing here), and give the
        dataset K (so its metainfo equals the one a resumed checkpoint
        recorded)."""
        hooks = [h for h in runner.hooks if isinstance(h, ClusterFitHook)]
        if len(hooks) != 1:
            raise ValueError(
                f'ClusterFitHook appears {len(hooks)} times in the Runner\'s '
                'hooks; two would cluster into one cache and fight over the '
                'labels. Keep one in custom_hooks.')
        dataset = self._find_dataset(runner)
        try:
            check_num_outputs(self._head(runner), self.num_clusters)
            check_preprocessor_classes(
                getattr(self._model(runner), 'data_preprocessor', None),
                self.num_clusters)
        except ValueError as e:
            raise ValueError(f'ClusterFitHook: {e}') from e
        self.kmeans.check_size(len(dataset))
        check_source(self.source)
        try:  # an image transform for clips is refused before any reading
            build_pipeline_for(dataset.dataset, self.extract_pipeline)
        except (KeyError, TypeError, ValueError) as e:
            raise type(e)(f'ClusterFitHook extract_pipeline: {e}') from e
        if is_main_process():
            self.cache(runner.work_dir).acquire()
        dataset.num_clusters = self.num_clusters

    def after_run(self, runner) -> None:
        """Unlock the cache directory."""
        if is_main_process():
            self.cache(runner.work_dir).release()

    def before_train(self, runner) -> None:
        """Find or build the labels and give them to the dataset."""
        dataset = self._find_dataset(runner)
        cache = self.cache(runner.work_dir)
        parts, self._classes = self.fingerprint(dataset.dataset)
        if dataset.label_file is not None:
            runner.logger.warning(
                f'ClusterFitHook replaces the labels of label_file='
                f'{dataset.label_file!r} with its own clustering.')
        last = self._last_round(runner.epoch)
        if last > 0:
            # A resumed run trains on its last round's labels; the source's
            # clustering is not needed (and is not redone: that would drop
            # the rounds).
            labels = self._restore_round(runner, cache, parts, last)
        else:
            labels = rank0_then_broadcast(
                lambda: cache.lookup(parts, len(dataset)))
        if labels is None:
            if is_main_process():
                cache.drop_other_shards(get_dist_info()[1])
            model = build_source_model(self.source)
            result = self.round.run(model, dataset.dataset, self.source.stage,
                                    cache, feature_key(parts))
            del model
            gc.collect()
            torch.cuda.empty_cache()  # a no-op without CUDA
            labels = result.labels
            if is_main_process():
                self.save(cache, result, parts)
                runner.logger.info(f'ClusterFitHook: wrote {cache.directory}.')
                self.diagnose(dataset.dataset, cache, labels, 'source',
                              runner.visualizer, runner.epoch)
            barrier()
        elif is_main_process():
            self._replay_diagnostics(dataset.dataset, cache, labels, runner,
                                     last)
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
            labels = self.round.run(
                model, dataset.dataset, self.recluster_stage,
                round_id=epoch).labels
        finally:
            model.train()
        if is_main_process():
            cache = self.cache(runner.work_dir)
            self._write(cache.save_round, epoch, labels)
            self.diagnose(
                dataset.dataset,
                cache,
                labels,
                f'epoch{epoch}',
                runner.visualizer,
                epoch,
                pictures=False)
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

    def cache(self, work_dir: str) -> ClusterCache:
        """The hook's cache directory.

        Args:
            work_dir (str): the run's work directory.

        Returns:
            ClusterCache: ``cache_dir``, or ``{work_dir}/clusterfit``.
        """
        return ClusterCache(self.cache_dir or osp.join(work_dir, 'clusterfit'))

    def fingerprint(self, dataset) -> Tuple[Dict[str, str], np.ndarray]:
        """What the clustering of ``dataset`` depends on, and its classes.

        Args:
            dataset: the dataset the ClusterFitDataset wraps.

        Returns:
            tuple: the fingerprint parts (sample list, source weights and
            model, stage, extraction pipeline, K, k-means and preprocessing
            settings), and the samples' known classes (-1: unknown).
        """
        start = time.perf_counter()
        contents = self.fingerprint_settings.contents
        sample_keys, classes = scan_samples(dataset, contents)
        print_log(
            f'ClusterFitHook: fingerprint of {len(sample_keys)} samples ' +
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

    def save(self, cache: ClusterCache, result: ClusteringResult,
             parts: Dict[str, str]) -> None:
        """Write a clustering of the source to the cache, with its manifest.

        Args:
            cache (ClusterCache): where it goes.
            result (ClusteringResult): the clustering.
            parts (dict): its fingerprint parts (:meth:`fingerprint`).
        """
        self._write(
            cache.save,
            result.labels,
            result.centroids,
            parts,
            source=self.source.summary(),
            **self.round.settings(),
            **result.summary())

    def _last_round(self, epoch: int) -> int:
        """The epoch of the last round before ``epoch`` (a round due at
        ``epoch`` itself is redone), 0 when there is none."""
        if not self.interval or epoch <= 0:
            return 0
        return (epoch - 1) // self.interval * self.interval

    def _restore_round(self, runner, cache: ClusterCache,
                       parts: Dict[str, str], last: int) -> np.ndarray:
        """On resume, the labels of the round at epoch ``last``."""
        stale = rank0_then_broadcast(lambda: cache.stale_parts(parts))
        if stale:
            runner.logger.warning(
                f'ClusterFitHook: the cache in {cache.directory} was made '
                f'with another {", ".join(stale)} than this config; the run '
                'resumes with the labels its rounds wrote.')
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

    def diagnose(self,
                 dataset,
                 cache: ClusterCache,
                 labels: np.ndarray,
                 tag: str,
                 visualizer=None,
                 step: int = 0,
                 pictures: bool = True) -> None:
        """Write a clustering's scores (and pictures) to the cache's
        ``diagnostics/`` and the visualizer (see :func:`write_diagnostics`);
        nothing when ``diagnostics`` is None.

        Args:
            dataset: the dataset the ClusterFitDataset wraps.
            cache (ClusterCache): the cache.
            labels (np.ndarray): (N,) cluster ids.
            tag (str): ``'source'``, ``'epoch3'``, ...
            visualizer (Visualizer, optional): also gets them.
            step (int): the visualizer's step. Defaults to 0.
            pictures (bool): draw the grid and histogram. Defaults to True.
        """
        if self.diagnostics is None:
            return
        if self._classes is None:
            self._classes = scan_samples(dataset)[1]
        pipeline = build_pipeline_for(dataset, self.extract_pipeline)
        try:
            write_diagnostics(
                labels, self._classes, self.num_clusters,
                cache.path('diagnostics'), tag, (lambda i: to_tile(
                    pipeline(dataset.get_data_info(i))['inputs']))
                if pictures else None, self.diagnostics.grid_clusters,
                self.diagnostics.per_cluster, visualizer, step)
        except Exception as e:  # the labels are written; do not lose them
            print_log(
                f'ClusterFitHook: the {tag} diagnostics were not written '
                f'({type(e).__name__}: {e}); the labels are, and training '
                'goes on.',
                logger='current',
                level=logging.WARNING)

    def _replay_diagnostics(self, dataset, cache: ClusterCache,
                            labels: np.ndarray, runner, last: int) -> None:
        """On a cache hit (a re-run, the offline steps, a resume), give the
        visualizer what the run that made the cache gave it: the source's
        scores and pictures, and each round's scores up to ``last``."""
        if self.diagnostics is None:
            return
        directory = cache.path('diagnostics')
        rounds = range(self.interval, last + 1, self.interval) if last else []
        tags = [('source', 0)] + [(f'epoch{e}', e) for e in rounds]
        for tag, step in tags:
            if replay_diagnostics(directory, tag, runner.visualizer, step):
                continue
            if tag == 'source' and not last:  # draw them from the labels
                self.diagnose(dataset, cache, labels, tag, runner.visualizer,
                              step)
            else:
                runner.logger.info(
                    f'ClusterFitHook: {directory} has no diagnostics of '
                    f'{tag}; the visualizer gets none for it.')

    def _apply_labels(self, runner, dataset: ClusterFitDataset,
                      labels: np.ndarray) -> None:
        dataset.set_labels(labels, self.num_clusters)
        self._labels = labels
        if self.reweight_loss:
            weight_loss_by_cluster_size(
                self._head(runner), labels, self.num_clusters)

    def _reset_head(self, runner, epoch: int) -> None:
        """Re-initialise the classifier (seeded, the same on every rank) and
        drop its optimizer state (momentum)."""
        reset_classifier(
            self._head(runner), self.kmeans.seed * 100003 + epoch,
            runner.optim_wrapper)

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        """The model being trained, unwrapped from DDP and the like."""
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _head(self, runner):
        return getattr(self._model(runner), 'head', None)
