# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""ResNet features pooled as VISSL's linear and SVM benchmarks pool them.

VISSL scores a ResNet-50 at several stages, each map average-pooled and
flattened by its ``LINEAR_FEAT_POOL_OPS`` (the VOC07 SVM config,
``eval_resnet_8gpu_transfer_voc07_svm.yaml``): ``res4`` (the 14 x 14 map of
1024 channels at 224 pixels) by ``AvgPool2d(8, stride=3)`` to 3 x 3, 9216
features; ``res5`` (7 x 7 x 2048) by ``AvgPool2d(6, stride=1)`` to 2 x 2,
8192 features. :class:`VisslLayer` wraps a model's backbone so that the
plugin's extractor gets those features.
"""
from typing import Tuple

import torch
from torch import nn

# layer -> (ResNet out index, kernel, stride, padding), VISSL's.
VISSL_LAYERS = {'res4': (2, 8, 3, 0), 'res5': (3, 6, 1, 0)}


class VisslLayer(nn.Module):
    """A ResNet backbone whose output is one stage's map, pooled and
    flattened as VISSL does.

    Args:
        backbone (nn.Module): an mmpretrain ``ResNet``-like backbone (it
            has ``out_indices`` and returns one map per index).
        layer (str): ``'res4'`` or ``'res5'``.
    """

    def __init__(self, backbone: nn.Module, layer: str):
        super().__init__()
        if layer not in VISSL_LAYERS:
            raise ValueError(f'vissl_layer={layer!r}: use one of '
                             f'{sorted(VISSL_LAYERS)}.')
        if not hasattr(backbone, 'out_indices'):
            raise ValueError(
                f'vissl_layer={layer!r} pools a ResNet stage, but '
                f'{type(backbone).__name__} has no out_indices (not a '
                "ResNet): use the model's own stage output (no vissl_layer).")
        index, kernel, stride, padding = VISSL_LAYERS[layer]
        backbone.out_indices = (index, )
        self.backbone = backbone
        self.layer = layer
        self.pool = nn.AvgPool2d(kernel, stride, padding)

    def forward(self, inputs: torch.Tensor, **kwargs) -> Tuple[torch.Tensor]:
        """The stage's map, pooled and flattened.

        Args:
            inputs (Tensor): (N, 3, H, W) images.

        Returns:
            tuple: one (N, D) tensor.
        """
        fmap = self.backbone(inputs, **kwargs)[-1]
        if fmap.dim() != 4 or min(fmap.shape[2:]) < self.pool.kernel_size:
            raise ValueError(
                f'vissl_layer={self.layer!r}: the map is '
                f'{tuple(fmap.shape[1:])}, smaller than VISSL\'s '
                f'{self.pool.kernel_size}x{self.pool.kernel_size} pool; its '
                'pooling assumes 224-pixel images and a ResNet-50.')
        return (self.pool(fmap).flatten(1), )


def use_vissl_layer(model: nn.Module, layer: str) -> nn.Module:
    """Make ``model``'s backbone give VISSL's pooled ``layer`` features.

    Args:
        model (nn.Module): a built model with a ``backbone``.
        layer (str): ``'res4'`` or ``'res5'``.

    Returns:
        nn.Module: the model (changed in place).
    """
    model.backbone = VisslLayer(model.backbone, layer)
    return model
