# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``ClusterFitHead``: a linear classifier over K clusters."""
from typing import List, Optional, Sequence, Union

import torch
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS


@MODELS.register_module()
class ClusterFitHead(LinearClsHead):
    """Linear classification over the K clusters of ClusterFit.

    mmpretrain's ``LinearClsHead`` with K outputs: same ``ClsHead`` interface
    (``loss``, ``predict``, ``pre_logits``), top-k values clipped to K.

    Args:
        num_clusters (int): K, the number of clusters (outputs).
        in_channels (int): feature channels of the neck's output.
        topk (int | Sequence[int]): top-k accuracies to report; values above
            K are clipped to K. Defaults to ``(1, 5)``.
        init_cfg (dict, optional): initialisation. Defaults to normal with
            std 0.01, as ``LinearClsHead``.
        **kwargs: ``loss``, ``cal_acc`` and the rest of ``ClsHead``.
    """

    def __init__(self,
                 num_clusters: int,
                 in_channels: int,
                 topk: Union[int, Sequence[int]] = (1, 5),
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs):
        if 'num_classes' in kwargs:
            raise ValueError(
                f"ClusterFitHead got num_classes={kwargs['num_classes']} "
                f'beside num_clusters={num_clusters}: its entry was merged '
                "into the recipe's head. Write model=dict(head=dict("
                "_delete_=True, type='ClusterFitHead', num_clusters=K, "
                'in_channels=...)).')
        if int(num_clusters) < 2:
            raise ValueError(f'ClusterFitHead: num_clusters={num_clusters} '
                             'must be at least 2.')
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        topk = tuple(sorted({min(int(k), int(num_clusters)) for k in topk}))
        super().__init__(
            num_classes=int(num_clusters),
            in_channels=in_channels,
            topk=topk,
            init_cfg=init_cfg,
            **kwargs)

    @property
    def num_clusters(self) -> int:
        """int: K."""
        return self.num_classes

    def _get_loss(self, cls_score: torch.Tensor, data_samples: List,
                  **kwargs) -> dict:
        """``LinearClsHead``'s loss, after checking that every hard label is
        a cluster id in ``[0, K)`` (a ``label_file`` made with another K
        would otherwise fail inside the loss with an index error)."""
        if data_samples and 'gt_score' not in data_samples[0]:
            labels = torch.cat([s.gt_label for s in data_samples])
            if len(labels) and (int(labels.min()) < 0
                                or int(labels.max()) >= self.num_classes):
                bad = labels[(labels < 0) | (labels >= self.num_classes)]
                raise ValueError(
                    f'ClusterFitHead has num_clusters={self.num_classes} '
                    f'outputs but got the label {int(bad[0])}: the labels '
                    '(a label_file?) were made with another K. Set '
                    'model.head.num_clusters to their K, or make the labels '
                    'again with this K.')
        return super()._get_loss(cls_score, data_samples, **kwargs)
