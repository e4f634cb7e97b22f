"""``ClusterFitHook``: pseudo-labels from a source network, before training."""
import copy
import gc
import os
import os.path as osp
import platform
import re
import time
from typing import Dict, List, Optional, Tuple

import mmengine
import mmpretrain
import numpy as np
import torch
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import HOOKS

from ...clustering import (DTYPES, FeatureStore, KMeans, Preprocessor,
                           cluster_size_stats,
                           normalized_mutual_info)
from ...clustering import kmeans as kmeans_module
from ...datasets import ClusterFitDataset
from ...datasets.transforms import build_pipeline
from ...version import __version__
from ...visualization import (agreement, cluster_grid, save_png,
                              size_histogram, to_tile)
from ..cache import (ClusterCache, atomic_save_json, atomic_save_npy,
                     combine_fingerprint, sha256_file, sha256_of)
from ..dist_clustering import cluster_by_index
from ..extractor import (DEFAULT_EXTRACT_PIPELINE, STAGES, build_source_model,
                         extract_features, load_source_config, sample_path,
                         source_summary)

# The fingerprint parts that determine the extracted features.
FEATURE_PARTS = ('samples', 'source_weights', 'source_model', 'stage',
                 'extract_pipeline', 'feature_dtype')
ROUND_PATTERN = re.compile(r'labels_epoch\d+\.npy')


def round_file(epoch: int) -> str:
    """File name of the labels of the re-clustering round at ``epoch``.

    Args:
        epoch (int): the epoch the round starts.

    Returns:
        str: ``labels_epoch{epoch}.npy``.
    """
    return f'labels_epoch{epoch}.npy'


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
        interval (int): re-cluster with the trained model every ``interval``
            epochs; 0 clusters once (ClusterFit). Defaults to 0.
        recluster_stage (str): the trained model's feature stage for
            re-clustering. Defaults to ``'backbone'``.
        reweight_loss (bool): weight the head's cross-entropy by inverse
            cluster frequency (``N / (K' * size)`` over the K' non-empty
            clusters). Defaults to False.
        features (dict, optional): the feature store: ``storage``
            (``'memory'``, or ``'disk'``: a memory-mapped file per rank under
            ``{cache_dir}/features/``, resumed after an interruption),
            ``dtype`` (``'float32'`` or ``'float16'``), ``keep`` (keep the
            disk files after clustering) and ``flush_every`` (rows between
            progress records on disk, default 8192). Defaults to float32 in
            memory.
        pca (dict, optional): PCA before L2 normalisation, fitted on the
            k-means sample: ``dim`` and ``whiten`` (default True). Defaults
            to None (no PCA).
        channels_last (bool): channels-last inputs for extraction on CUDA.
            Defaults to False.
        wait_poll_s (float): while rank 0 fits k-means, the other ranks
            wait in slices of this many seconds (logging each), never in a
            collective that could exceed the process group's timeout.
            Defaults to 60.
        diagnostics (dict, optional): after a clustering, rank 0 writes to
            ``{cache_dir}/diagnostics/`` and to the runner's visualizer
            (TensorBoard when configured): NMI / ARI / purity against the
            dataset's own labels when it has them, a cluster-size histogram
            and a grid of ``per_cluster`` samples of the ``grid_clusters``
            largest clusters (re-clustering rounds: scores only). None turns
            it off. Defaults to ``dict(grid_clusters=8, per_cluster=8)``.
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
        if int(interval) < 0:
            raise ValueError(f'ClusterFitHook interval={interval} must be '
                             '>= 0 (0: cluster once).')
        if recluster_stage not in STAGES:
            raise ValueError(f'ClusterFitHook recluster_stage='
                             f'{recluster_stage!r} is unknown; use one of '
                             f'{STAGES}.')
        self.interval = int(interval)
        self.recluster_stage = recluster_stage
        self.reweight_loss = reweight_loss
        self.features = dict(
            storage='memory', dtype='float32', keep=False, flush_every=8192)
        self.features.update(features or {})
        if self.features['storage'] not in ('memory', 'disk'):
            raise ValueError(f"ClusterFitHook features.storage="
                             f"{self.features['storage']!r} is unknown; use "
                             "'memory' or 'disk'.")
        if self.features['dtype'] not in DTYPES:
            raise ValueError(f"ClusterFitHook features.dtype="
                             f"{self.features['dtype']!r} is unknown; use "
                             f'one of {DTYPES}.')
        self.pca = None if pca is None else dict(dict(whiten=True), **pca)
        if self.pca is not None and int(self.pca.get('dim', 0)) < 1:
            raise ValueError(f'ClusterFitHook pca={pca}: give dim >= 1.')
        self.channels_last = channels_last
        self.wait_poll_s = wait_poll_s
        self.diagnostics = diagnostics
        self._labels: Optional[np.ndarray] = None
        self._classes: Optional[np.ndarray] = None

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
        cache = self._cache(runner)
        sample_keys, self._classes = self._scan_samples(dataset.dataset)
        parts = self._fingerprint_parts(sample_keys)
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
            model = build_source_model(self.source)
            feature_key = combine_fingerprint({
                k: parts[k]
                for k in FEATURE_PARTS
            })
            labels, stats = self._cluster(runner, dataset, model,
                                          self.source['stage'], feature_key)
            del model
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if get_dist_info()[0] == 0:
                self._save_initial(runner, cache, labels, stats, fingerprint,
                                   parts)
                self._diagnose(runner, dataset, labels, 'source')
            barrier()
        elif self.interval and runner.epoch > 0:
            labels = self._restore_round(runner, cache, labels)
        self._apply_labels(runner, dataset, labels)

    def before_train_epoch(self, runner) -> None:
        """Every ``interval`` epochs, re-cluster with the model being trained.

        Args:
            runner (Runner): the runner.
        """
        epoch = runner.epoch
        if not self.interval or epoch == 0 or epoch % self.interval:
            return
        dataset = self._find_dataset(runner)
        model = self._model(runner)
        runner.logger.info(f'ClusterFitHook: round at epoch {epoch}: '
                           're-clustering with the model being trained.')
        model.eval()
        try:
            labels, _ = self._cluster(runner, dataset, model,
                                      self.recluster_stage, round_id=epoch)
        finally:
            model.train()
        if get_dist_info()[0] == 0:
            atomic_save_npy(self._cache(runner).path(round_file(epoch)),
                            labels)
            self._diagnose(runner, dataset, labels, f'epoch{epoch}',
                           pictures=False)
        barrier()
        nmi = normalized_mutual_info(self._labels, labels)
        runner.message_hub.update_scalar('train/clusterfit_nmi', nmi)
        runner.logger.info(f'ClusterFitHook: NMI with the previous round '
                           f'{nmi:.4f}; wrote {round_file(epoch)}.')
        self._reset_head(runner, epoch)
        self._apply_labels(runner, dataset, labels)

    def _cache(self, runner) -> ClusterCache:
        return ClusterCache(self.cache_dir
                            or osp.join(runner.work_dir, 'clusterfit'))

    def _restore_round(self, runner, cache: ClusterCache,
                       labels: np.ndarray) -> np.ndarray:
        """On resume, the labels of the last round before ``runner.epoch``
        (a round due at ``runner.epoch`` itself is redone by
        ``before_train_epoch``, after the resumed checkpoint)."""
        last = (runner.epoch - 1) // self.interval * self.interval
        if last <= 0:
            return labels
        found = [None]
        if get_dist_info()[0] == 0:
            path = cache.path(round_file(last))
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'resuming at epoch {runner.epoch} with interval='
                    f'{self.interval} needs the labels of the round at '
                    f'epoch {last}, {path}, which is missing. Resume from '
                    'an earlier checkpoint, or start the run again.')
            found = [np.load(path, allow_pickle=False)]
        broadcast_object_list(found, src=0)
        runner.logger.info(f'ClusterFitHook: resumed the labels of the '
                           f'round at epoch {last}.')
        return found[0]

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
        head = self._head(runner)
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

    @staticmethod
    def _scan_samples(inner) -> Tuple[list, np.ndarray]:
        """One pass over the wrapped dataset: each sample's identity (its
        file, else its info without labels), refusing duplicate files, and
        its single true label (-1 when unknown or multi-label) for the
        diagnostics."""
        keys, classes, seen = [], [], {}
        for i in range(len(inner)):
            info = inner.get_data_info(i)
            path = sample_path(info)
            if path is not None and path in seen:
                raise ValueError(
                    f'samples {seen[path]} and {i} of the dataset are the '
                    f'same file {path!r}: a duplicate would weigh twice in '
                    'k-means and get two labels. Remove duplicates from the '
                    'annotation list.')
            seen[path] = i
            keys.append(path or {
                k: v
                for k, v in info.items() if k not in ('gt_label',
                                                      'sample_idx')
            })
            label = info.get('gt_label', -1)
            classes.append(int(label) if np.ndim(label) == 0 else -1)
        return keys, np.array(classes, dtype=np.int64)

    def _fingerprint_parts(self, sample_keys: list) -> Dict[str, str]:
        checkpoint = self.source['checkpoint']
        samples = [len(sample_keys)] + sample_keys
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
            l2_normalize=str(self.l2_normalize),
            feature_dtype=self.features['dtype'],
            pca=sha256_of(self.pca))

    def _cluster(self,
                 runner,
                 dataset: ClusterFitDataset,
                 model: torch.nn.Module,
                 stage: str,
                 feature_key: Optional[str] = None,
                 round_id: int = 0) -> Tuple[np.ndarray, dict]:
        """Extract ``model``'s features (each rank its shard) and k-means.

        ``feature_key`` identifies the features for an on-disk store (the
        source's extraction); re-clustering rounds keep them in memory.
        Returns the labels (on every rank) and the statistics the manifest
        records.
        """
        rank, world_size = get_dist_info()
        num_samples = len(dataset)
        timings = {}
        start = time.perf_counter()
        indices = np.arange(rank, num_samples, world_size, dtype=np.int64)
        store = self._feature_store(runner, len(indices), feature_key)
        runner.logger.info(
            f'ClusterFitHook: extracting {stage} features of {num_samples} '
            f'samples ({world_size} rank(s)) with {type(model).__name__}'
            + (f'; resuming after {store.rows_done} rows already on disk'
               if store.rows_done else '') + '.')
        features = extract_features(
            model,
            dataset.dataset,
            self.extract_pipeline,
            indices,
            stage,
            store=store,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            amp=self.amp,
            channels_last=self.channels_last,
            progress=rank == 0)
        timings['extract_s'] = time.perf_counter() - start

        start = time.perf_counter()
        hint = ''
        if self.kmeans.backend == 'faiss-cpu' and torch.cuda.is_available():
            hint = ("; this faiss has no GPU support: kmeans=dict(backend="
                    "'torch') runs k-means on CUDA")
        runner.logger.info(
            f'ClusterFitHook: k-means K={self.num_clusters} on '
            f'{features.shape[1]}-d features ({self.kmeans.backend}{hint}).')
        preprocessor = Preprocessor(
            pca_dim=None if self.pca is None else int(self.pca['dim']),
            whiten=True if self.pca is None else self.pca['whiten'],
            l2_normalize=self.l2_normalize)
        labels, centroids, stats = cluster_by_index(
            features, indices, num_samples, self.kmeans, preprocessor,
            round_id=round_id, wait_poll_s=self.wait_poll_s)
        if not self.features['keep']:
            store.remove()
        timings['kmeans_fit_s'] = stats['fit_seconds']
        timings['kmeans_total_s'] = time.perf_counter() - start
        sizes = cluster_size_stats(labels, self.num_clusters)
        runner.logger.info(
            f'ClusterFitHook: objective {stats["objective"]:.6g} '
            f'(mean {stats["objective"] / num_samples:.4g}); cluster sizes '
            f'min {sizes["min"]} / median {sizes["median"]:g} / max '
            f'{sizes["max"]}, {sizes["empty"]} empty; '
            f'extraction {timings["extract_s"]:.1f}s, k-means '
            f'{timings["kmeans_total_s"]:.1f}s ({stats["fit_iterations"]} '
            f'of {self.kmeans.niter} iterations).')
        return labels, dict(stats, centroids=centroids, sizes=sizes,
                            timings=timings, world_size=world_size)

    def _feature_store(self, runner, num_rows: int,
                       feature_key: Optional[str]) -> FeatureStore:
        """This rank's store: on disk (resumable) for the source's features
        when configured, in memory otherwise."""
        dtype = self.features['dtype']
        if self.features['storage'] == 'memory' or feature_key is None:
            return FeatureStore(num_rows, dtype)
        rank, world_size = get_dist_info()
        directory = self._cache(runner).path('features')
        shard = f'-rank{rank}-of-{world_size}.npy'
        name = feature_key[:16] + shard
        if osp.isdir(directory):  # this rank's shards of other features
            for old in os.listdir(directory):
                if shard in old and not old.startswith(name):
                    os.remove(osp.join(directory, old))
        return FeatureStore(num_rows, dtype, osp.join(directory, name),
                            key=feature_key,
                            flush_every=self.features['flush_every'])

    def _save_initial(self, runner, cache: ClusterCache, labels: np.ndarray,
                      stats: dict, fingerprint: str, parts: dict) -> None:
        """Write the source's clustering; drop rounds of an older run."""
        for name in os.listdir(cache.directory) if osp.isdir(
                cache.directory) else []:
            if ROUND_PATTERN.fullmatch(name):
                os.remove(cache.path(name))
        cache.save(labels, stats['centroids'],
                   self._manifest(fingerprint, parts, len(labels), stats))
        runner.logger.info(f'ClusterFitHook: wrote {cache.directory}.')

    def _diagnose(self, runner, dataset: ClusterFitDataset,
                  labels: np.ndarray, tag: str,
                  pictures: bool = True) -> None:
        """Scores and pictures of a clustering (rank 0)."""
        if self.diagnostics is None:
            return
        inner = dataset.dataset
        directory = self._cache(runner).path('diagnostics')
        classes = self._classes
        scores = agreement(labels, classes) if (classes >= 0).any() else {}
        if scores:
            runner.logger.info(
                f'ClusterFitHook: clusters vs the dataset\'s labels ({tag}): '
                f'NMI {scores["nmi"]:.4f}, ARI {scores["ari"]:.4f}, purity '
                f'{scores["purity"]:.4f}.')
            runner.visualizer.add_scalars(
                {f'clusterfit/{k}': v
                 for k, v in scores.items()}, step=runner.epoch)
        atomic_save_json(
            osp.join(directory, f'metrics_{tag}.json'),
            dict(scores, cluster_size=cluster_size_stats(
                labels, self.num_clusters)))
        if not pictures:
            return
        images = dict(cluster_sizes=size_histogram(labels, self.num_clusters))
        pipeline = build_pipeline(self.extract_pipeline)
        images['cluster_grid'] = cluster_grid(
            labels,
            lambda i: to_tile(pipeline(inner.get_data_info(i))['inputs']),
            self.diagnostics.get('grid_clusters', 8),
            self.diagnostics.get('per_cluster', 8))
        for name, image in images.items():
            save_png(osp.join(directory, f'{name}_{tag}.png'), image)
            runner.visualizer.add_image(f'clusterfit_{name}_{tag}', image,
                                        step=runner.epoch)
        runner.logger.info(f'ClusterFitHook: diagnostics in {directory}.')

    def _apply_labels(self, runner, dataset: ClusterFitDataset,
                      labels: np.ndarray) -> None:
        dataset.set_labels(labels, self.num_clusters)
        self._labels = labels
        if self.reweight_loss:
            head = self._head(runner)
            loss = getattr(head, 'loss_module', None)
            if not hasattr(loss, 'class_weight'):
                raise ValueError(
                    'ClusterFitHook reweight_loss=True needs a head whose '
                    'loss_module takes class_weight (CrossEntropyLoss); '
                    f'{type(loss).__name__} does not.')
            sizes = np.bincount(labels, minlength=self.num_clusters)
            nonempty = max(int((sizes > 0).sum()), 1)
            loss.class_weight = (len(labels) /
                                 (nonempty * np.maximum(sizes, 1))).tolist()

    def _reset_head(self, runner, epoch: int) -> None:
        """Re-initialise the classifier (seeded, the same on every rank) and
        drop its optimizer state (momentum)."""
        fc = getattr(self._head(runner), 'fc', None)
        if not isinstance(fc, torch.nn.Linear):
            raise ValueError('ClusterFitHook interval>0 re-initialises '
                             'head.fc, but the head has no nn.Linear fc.')
        gen = torch.Generator().manual_seed(self.kmeans.seed * 100003 +
                                            epoch)
        with torch.no_grad():
            fc.weight.copy_(
                torch.randn(fc.weight.shape, generator=gen) * 0.01)
            fc.bias.zero_()
        wrappers = (runner.optim_wrapper.values() if isinstance(
            runner.optim_wrapper, OptimWrapperDict) else
                    [runner.optim_wrapper])
        for wrapper in wrappers:
            for param in fc.parameters():
                wrapper.optimizer.state.pop(param, None)

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        """The model being trained, unwrapped from DDP and the like."""
        return runner.model.module if is_model_wrapper(
            runner.model) else runner.model

    def _head(self, runner):
        return getattr(self._model(runner), 'head', None)

    def _manifest(self, fingerprint: str, parts: dict, num_samples: int,
                  stats: dict) -> dict:
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
            feature_dim=int(stats['centroids'].shape[1]),
            source=source_summary(self.source),
            extract_pipeline=self.extract_pipeline,
            l2_normalize=self.l2_normalize,
            pca=self.pca,
            features=self.features,
            kmeans=dict(self.kmeans.params(), backend=self.kmeans.backend),
            objective=stats['objective'],
            mean_sq_distance=stats['objective'] / num_samples,
            fit_objective=stats['fit_objective'],
            fit_size=stats['fit_size'],
            fit_iterations=stats['fit_iterations'],
            cluster_size=stats['sizes'],
            timings=stats['timings'],
            world_size=stats['world_size'],
            versions=versions,
            created=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
