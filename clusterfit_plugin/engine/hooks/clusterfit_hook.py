# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ClusterFitHook``: pseudo-labels from a source network, before training."""
from typing import Optional

import numpy as np
import torch
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...clustering import normalized_mutual_info
from ...datasets import ClusterFitDataset
from ...models.heads import (check_checkpoint_outputs, check_num_outputs,
                             check_preprocessor_classes, reset_classifier,
                             weight_loss_by_cluster_size)
from ...settings import as_bool, as_choice, as_int, check_keys
from ..cache import ClusterCache, round_file
from ..heldout import check_val_split, label_val_split
from ..pipeline import PIPELINE_KEYS, ClusterFitPipeline, write_or_explain
from ..settings import STAGES

# The hook's arguments: its own and its ClusterFitPipeline's.
HOOK_KEYS = ('interval', 'recluster_stage', 'reweight_loss') + PIPELINE_KEYS


@HOOKS.register_module()
class ClusterFitHook(Hook):
    """Cluster a source network's features and label the training set.

    Before training, its :class:`ClusterFitPipeline` finds the labels in the
    cache or clusters the source's features (every rank extracts, rank 0
    fits, labels gathered by sample index); the hook hands them to the
    :class:`ClusterFitDataset` of ``train_dataloader`` on every rank, and
    re-clusters with the trained model every ``interval`` epochs. A val
    ``ClusterFitDataset`` gets the nearest training centroids (heldout.py).

    Args:
        num_clusters (int): K. Must equal the head's number of outputs and
            the data preprocessor's ``num_classes``.
        source (dict): the source network (:class:`SourceSettings`):
            ``config`` or ``model``, ``checkpoint`` (required; None or
            ``init='random'`` for a random init on purpose),
            ``checkpoint_format`` (VISSL, torchvision, MoCo checkpoints are
            read too), ``stage``, ``init_seed``.
        interval (int): re-cluster with the trained model every ``interval``
            epochs; 0 (default) clusters once.
        recluster_stage (str): the trained model's stage (``'backbone'``).
        reweight_loss (bool): weight the loss by 1 / cluster size (False).
        **kwargs: the rest of :class:`ClusterFitPipeline` (``kmeans``,
            ``extract_pipeline``, ``features``, ``pca``, ``fingerprint``,
            ``diagnostics``, ``cache_dir``, ...), documented there. Every
            dict is parsed here: an unknown key is an error naming it.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 num_clusters: int,
                 source: dict,
                 interval: int = 0,
                 recluster_stage: str = 'backbone',
                 reweight_loss: bool = False,
                 **kwargs):
        try:
            check_keys(kwargs, HOOK_KEYS, 'ClusterFitHook')
            self.interval = as_int(interval, 'interval (0: cluster once)', 0)
            self.recluster_stage = as_choice(recluster_stage,
                                             'recluster_stage', STAGES)
            self.reweight_loss = as_bool(reweight_loss, 'reweight_loss')
            self.pipeline = ClusterFitPipeline(
                as_int(num_clusters, 'num_clusters', 2), source, **kwargs)
        except (TypeError, ValueError) as e:
            raise type(e)(str(e) if str(e).startswith('ClusterFitHook') else
                          f'ClusterFitHook {e}') from e
        self.num_clusters = self.pipeline.num_clusters
        self._labels: Optional[np.ndarray] = None
        self._classes: Optional[np.ndarray] = None

    def before_run(self, runner) -> None:
        """Check the setup before anything is read, lock the cache (rank 0)
        and give the dataset K (as a resumed checkpoint records it)."""
        hooks = [h for h in runner.hooks if isinstance(h, ClusterFitHook)]
        dataset = self._find_dataset(runner)
        try:
            if len(hooks) != 1:
                raise ValueError(
                    f'appears {len(hooks)} times in the Runner\'s hooks; two '
                    'would cluster into one cache and fight over the '
                    'labels. Keep one in custom_hooks.')
            check_num_outputs(self._head(runner), self.num_clusters)
            check_preprocessor_classes(
                getattr(self._model(runner), 'data_preprocessor', None),
                self.num_clusters)
            self.pipeline.check(dataset.dataset)
            check_val_split(runner, self.pipeline, self.interval)
        except (KeyError, TypeError, ValueError) as e:
            raise type(e)(f'ClusterFitHook: {e}') from e
        if is_main_process():
            self._cache(runner).acquire()
        dataset.num_clusters = self.num_clusters

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse a checkpoint (a resume) whose head predicts another K."""
        check_checkpoint_outputs(checkpoint, self.num_clusters)

    def after_run(self, runner) -> None:
        """Unlock the cache directory."""
        if is_main_process():
            self._cache(runner).release()

    def before_train(self, runner) -> None:
        """Find or build the labels and give them to the dataset."""
        dataset = self._find_dataset(runner)
        cache = self._cache(runner)
        parts, self._classes = self.pipeline.fingerprint(dataset.dataset)
        if dataset.label_file is not None:
            runner.logger.warning(f'ClusterFitHook replaces the labels of '
                                  f'label_file={dataset.label_file!r}.')
        last = self._last_round(runner.epoch)
        if last > 0:  # a resumed run trains on its last round's labels
            labels = self.pipeline.restore_round(cache, parts, last,
                                                 runner.work_dir)
        else:
            labels = self.pipeline.lookup(cache, parts, len(dataset))
        if labels is None:
            labels = self.pipeline.cluster_source(dataset.dataset, cache,
                                                  parts).labels
            if is_main_process():
                runner.logger.info(f'ClusterFitHook: wrote {cache.directory}.')
                self._diagnose(runner, labels, 'source')
            barrier()
        elif is_main_process() and self.pipeline.diagnostics is not None:
            rounds = list(range(self.interval, last + 1, self.interval or 1))
            replay = self.pipeline.diagnostics.replay
            replay(dataset.dataset, cache.path('diagnostics'),
                   None if last else labels, self._classes, runner.visualizer,
                   rounds if last else [])
        self._apply_labels(runner, dataset, labels)
        label_val_split(runner, self.pipeline, cache, self.num_clusters)

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
            labels = self.pipeline.round.run(
                model, dataset.dataset, self.recluster_stage,
                round_id=epoch).labels
        finally:
            model.train()
        if is_main_process():
            cache = self._cache(runner)
            write_or_explain(cache.save_round, epoch, labels, runner.work_dir)
            self._diagnose(runner, labels, f'epoch{epoch}', pictures=False)
        barrier()
        nmi = normalized_mutual_info(self._labels, labels)
        runner.message_hub.update_scalar('train/clusterfit_nmi', nmi)
        runner.logger.info(f'ClusterFitHook: NMI with the previous round '
                           f'{nmi:.4f}; wrote {round_file(epoch)}.')
        reset_classifier(
            self._head(runner), self.pipeline.kmeans.seed * 100003 + epoch,
            runner.optim_wrapper)
        self._apply_labels(runner, dataset, labels)

    def _diagnose(self,
                  runner,
                  labels: np.ndarray,
                  tag: str,
                  pictures: bool = True) -> None:
        """Write a clustering's diagnostics to the cache and the visualizer
        (rank 0), unless they are off."""
        if self.pipeline.diagnostics is not None:
            self.pipeline.diagnostics.write(
                self._find_dataset(runner).dataset,
                self._cache(runner).path('diagnostics'), labels, tag,
                self._classes, runner.visualizer, runner.epoch, pictures)

    def _cache(self, runner) -> ClusterCache:
        return self.pipeline.cache(runner.work_dir)

    def _last_round(self, epoch: int) -> int:
        """The last round's epoch before ``epoch`` (0: none)."""
        on = self.interval and epoch > 0
        return (epoch - 1) // self.interval * self.interval if on else 0

    @staticmethod
    def _find_dataset(runner) -> ClusterFitDataset:
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, ClusterFitDataset):
            raise TypeError(
                'ClusterFitHook labels a ClusterFitDataset, not a '
                f'{type(dataset).__name__}: train_dataloader.dataset=dict('
                "type='ClusterFitDataset', dataset=dict(type=...)).")
        return dataset

    def _apply_labels(self, runner, dataset: ClusterFitDataset,
                      labels: np.ndarray) -> None:
        dataset.set_labels(labels, self.num_clusters)
        self._labels = labels
        if self.reweight_loss:
            weight_loss_by_cluster_size(
                self._head(runner), labels, self.num_clusters)

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        """The model being trained, unwrapped from DDP and the like."""
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _head(self, runner):
        return getattr(self._model(runner), 'head', None)
