# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``DiagnosticsWriter``: a clustering's scores and pictures for a dataset,
written to files and a visualizer, and given to the visualizer again from
the files on a cache hit."""
import logging
from typing import List, Optional

import numpy as np
from mmengine.logging import print_log

from ..datasets.transforms import build_pipeline_for
from .cluster_diagnostics import replay_diagnostics, to_tile, write_diagnostics


class DiagnosticsWriter:
    """Write and replay the diagnostics of a dataset's clusterings.

    Args:
        settings (DiagnosticsSettings): the grid's size.
        extract_pipeline (list[dict]): the pipeline that draws a sample's
            tile (the extraction's).
        num_clusters (int): K.
    """

    def __init__(self, settings, extract_pipeline: List[dict],
                 num_clusters: int):
        self.settings = settings
        self.extract_pipeline = extract_pipeline
        self.num_clusters = num_clusters

    def write(self,
              dataset,
              directory: str,
              labels: np.ndarray,
              tag: str,
              classes: np.ndarray,
              visualizer=None,
              step: int = 0,
              pictures: bool = True) -> None:
        """Write a clustering's scores (and pictures) to ``directory`` and
        the visualizer (:func:`write_diagnostics`). A failure is logged, not
        raised: the labels are written already.

        Args:
            dataset: the clustered dataset.
            directory (str): the cache's ``diagnostics/``.
            labels (np.ndarray): (N,) cluster ids.
            tag (str): ``'source'``, ``'epoch3'``, ...
            classes (np.ndarray): (N,) known classes, -1 where unknown.
            visualizer (Visualizer, optional): also gets them.
            step (int): the visualizer's step. Defaults to 0.
            pictures (bool): draw the grid and histogram. Defaults to True.
        """
        pipeline = build_pipeline_for(dataset, self.extract_pipeline)

        def load_tile(i: int) -> np.ndarray:
            return to_tile(pipeline(dataset.get_data_info(i))['inputs'])

        try:
            write_diagnostics(labels, classes, self.num_clusters, directory,
                              tag, load_tile if pictures else None,
                              self.settings.grid_clusters,
                              self.settings.per_cluster, visualizer, step)
        except Exception as e:  # the labels are written; do not lose them
            print_log(
                f'ClusterFit: the {tag} diagnostics were not written '
                f'({type(e).__name__}: {e}); the labels are, and training '
                'goes on.',
                logger='current',
                level=logging.WARNING)

    def replay(self, dataset, directory: str, labels: Optional[np.ndarray],
               classes: np.ndarray, visualizer, rounds: List[int]) -> None:
        """On a cache hit, give the visualizer what the run that made the
        cache gave it: the source's scores and pictures, and the scores of
        the rounds at the epochs ``rounds``.

        Args:
            dataset: the clustered dataset.
            directory (str): the cache's ``diagnostics/``.
            labels (np.ndarray, optional): the source's labels (to draw the
                diagnostics again where their files are missing).
            classes (np.ndarray): the samples' known classes.
            visualizer (Visualizer): receives them.
            rounds (list[int]): the epochs of the rounds to replay.
        """
        for tag, step in [('source', 0)] + [(f'epoch{e}', e) for e in rounds]:
            if replay_diagnostics(directory, tag, visualizer, step):
                continue
            if tag == 'source' and labels is not None:
                self.write(dataset, directory, labels, tag, classes,
                           visualizer, step)
            else:
                print_log(
                    f'ClusterFit: {directory} has no diagnostics of {tag}; '
                    'the visualizer gets none for it.',
                    logger='current')
