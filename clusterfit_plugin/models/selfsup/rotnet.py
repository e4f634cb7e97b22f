# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""``RotNet``: rotation prediction (Gidaris et al., ICLR 2018), the
self-supervised source of the ClusterFit paper; mmpretrain lacks it."""
from typing import List

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class RotNet(BaseSelfSupervisor):
    """Predict which of 0, 90, 180 and 270 degrees an image was rotated by.

    Every image of the batch is shown at the four rotations; the backbone
    (and neck) embed them and the head, a 4-way classifier such as
    ``LinearClsHead(num_classes=4)``, is trained with its own loss. Inputs
    must be square. The features for ClusterFit are the backbone's (or the
    neck's): ``stage='backbone'`` or ``'neck'`` in ``ClusterFitHook``.

    Args:
        backbone (dict): the backbone.
        neck (dict, optional): e.g. ``GlobalAveragePooling``.
        head (dict): a 4-way classification head.
        **kwargs: the rest of ``BaseSelfSupervisor`` (``data_preprocessor``,
            ``init_cfg``, ...).
    """

    def loss(self, inputs, data_samples: List[DataSample], **kwargs) -> dict:
        """The rotation-classification loss of a batch.

        Args:
            inputs (Tensor | list[Tensor]): ``N x C x H x W`` images (the
                first view when a list).
            data_samples (list[DataSample]): unused; the rotation is the
                label.

        Returns:
            dict: the head's losses.
        """
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        if x.shape[-1] != x.shape[-2]:
            raise ValueError(f'RotNet needs square inputs, got '
                             f'{tuple(x.shape[-2:])}; crop them square in '
                             'the pipeline.')
        rotated = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
        feats = self.backbone(rotated)
        if self.with_neck:
            feats = self.neck(feats)
        targets = [
            DataSample().set_gt_label(k) for k in range(4)
            for _ in range(x.shape[0])
        ]
        return self.head.loss(feats, targets)
