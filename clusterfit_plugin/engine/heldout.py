# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""A held-out split labelled with the training clusters (VISSL's
``TEST_PARTITION``): each validation sample gets the cluster whose centroid
is nearest to its source features, so the Runner's validation loop reports
how well the network predicts clusters on images it does not train on."""
from typing import Optional

import numpy as np
from mmengine.logging import print_log

from ..clustering.kmeans import assign_to_centroids
from ..clustering.preprocessing import Preprocessor
from ..datasets import ClusterFitDataset
from .cache import CENTROIDS_FILE, ClusterCache
from .extractor import extract_features
from .rank_protocol import rank0_then_broadcast
from .source import build_source_model


def label_val_split(runner, pipeline, cache: ClusterCache,
                    num_clusters: int) -> None:
    """Label the Runner's validation ``ClusterFitDataset``, if it has one,
    with :func:`label_heldout`.

    Args:
        runner (Runner): the runner.
        pipeline (ClusterFitPipeline): the clustering.
        cache (ClusterCache): the cache holding its centroids.
        num_clusters (int): K.
    """
    dataset = val_clusterfit_dataset(runner)
    if dataset is not None:
        dataset.set_labels(
            label_heldout(pipeline, dataset.dataset, cache), num_clusters)


def val_clusterfit_dataset(runner) -> Optional[ClusterFitDataset]:
    """The ``ClusterFitDataset`` of the Runner's validation loop, if any.

    Args:
        runner (Runner): the runner.

    Returns:
        ClusterFitDataset | None: the dataset, or None (no validation, or
        validation on the dataset's own labels).
    """
    loop = runner.val_loop
    dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
    return dataset if isinstance(dataset, ClusterFitDataset) else None


def check_val_split(runner, pipeline, interval: int) -> None:
    """Refuse, before any work, a validation ``ClusterFitDataset`` that
    cannot be labelled.

    Args:
        runner (Runner): the runner.
        pipeline (ClusterFitPipeline): the clustering.
        interval (int): the hook's re-clustering interval.
    """
    dataset = val_clusterfit_dataset(runner)
    if dataset is None:
        return
    if interval:
        raise ValueError(
            f'interval={interval} with a ClusterFitDataset in '
            'val_dataloader: the held-out split is labelled with the '
            'source clustering only, and each re-clustering round would '
            'change what it measures. Drop interval, or validate on the '
            "dataset's own labels.")
    if pipeline.round.pca is not None:
        raise ValueError(
            'pca with a ClusterFitDataset in val_dataloader: the fitted '
            'projection is not cached, so a cache hit could not label the '
            'held-out split. Drop pca, or validate on the dataset\'s own '
            'labels.')
    if not len(dataset.dataset):
        raise ValueError('the ClusterFitDataset in val_dataloader is empty.')
    # Not pipeline.check: K may exceed a held-out split's size (it is only
    # assigned, not fitted).
    pipeline.check_extraction(dataset.dataset, ' on the val split')


def label_heldout(pipeline, dataset, cache: ClusterCache) -> np.ndarray:
    """Label a held-out dataset with the nearest of the training centroids
    of its source features (rank 0 computes, every rank receives).

    The features are extracted by the same source, stage and extraction
    pipeline as the training set's, and L2-normalised as they were; the
    centroids are the cache's (vouched for by its manifest when the
    training labels were found or written).

    Args:
        pipeline (ClusterFitPipeline): the clustering that made the
            centroids.
        dataset: the held-out mmengine dataset.
        cache (ClusterCache): the cache holding the training clustering.

    Returns:
        np.ndarray: (N,) int64 cluster ids.
    """

    def compute() -> np.ndarray:
        round_ = pipeline.round
        centroids = np.load(cache.path(CENTROIDS_FILE), allow_pickle=False)
        features = extract_features(
            build_source_model(pipeline.source),
            dataset,
            pipeline.extract_pipeline,
            np.arange(len(dataset)),
            pipeline.source.stage,
            batch_size=round_.batch_size,
            num_workers=round_.num_workers,
            amp=round_.amp,
            channels_last=round_.channels_last,
            progress=False)
        if features.shape[1] != centroids.shape[1]:
            raise ValueError(
                f'the held-out features are {features.shape[1]}-d but the '
                f'centroids {centroids.shape[1]}-d.')
        rows = Preprocessor(l2_normalize=round_.l2_normalize)(features)
        labels, _ = assign_to_centroids(rows, centroids,
                                        pipeline.kmeans.backend,
                                        pipeline.kmeans.chunk_size, None)
        print_log(
            f'ClusterFitHook: labelled the {len(labels)} held-out samples '
            'with the nearest training centroid '
            f'({len(np.unique(labels))} clusters used).',
            logger='current')
        return labels

    return rank0_then_broadcast(compute)
