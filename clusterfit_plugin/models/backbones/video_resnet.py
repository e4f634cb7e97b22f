# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""torchvision's video ResNets as mmpretrain backbones (5-D outputs)."""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models.video.resnet import (BasicBlock, BasicStem,
                                             Conv2Plus1D, Conv3DNoTemporal,
                                             Conv3DSimple, R2Plus1dStem,
                                             VideoResNet)


@MODELS.register_module()
class VideoResNetBackbone(BaseModule):
    """R3D-18, MC3-18, R(2+1)D-18 and R(2+1)D-34 (the ClusterFit paper's
    video network) built from torchvision, without pooling or classifier.

    Input ``N x C x T x H x W``; output a tuple with the last stage's
    ``N x 512 x T' x H' x W'`` map; complete the model with
    ``GlobalAveragePooling(dim=3)`` and a head.

    Args:
        arch (str): ``'r3d_18'``, ``'mc3_18'``, ``'r2plus1d_18'`` or
            ``'r2plus1d_34'`` (layers 3-4-6-3). Defaults to
            ``'r2plus1d_18'``.
        frozen_stages (int): stages to freeze (0 = stem only, -1 none), as
            mmpretrain's ResNet. Defaults to -1.
        norm_eval (bool): keep BN layers in eval mode. Defaults to False.
        init_cfg (dict, optional): initialisation (e.g. ``Pretrained``).
    """

    arch_settings = {
        'r3d_18': ([Conv3DSimple] * 4, [2, 2, 2, 2], BasicStem),
        'mc3_18': ([Conv3DSimple] + [Conv3DNoTemporal] * 3, [2, 2, 2,
                                                             2], BasicStem),
        'r2plus1d_18': ([Conv2Plus1D] * 4, [2, 2, 2, 2], R2Plus1dStem),
        'r2plus1d_34': ([Conv2Plus1D] * 4, [3, 4, 6, 3], R2Plus1dStem),
    }

    def __init__(self,
                 arch: str = 'r2plus1d_18',
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'VideoResNetBackbone arch={arch!r} is unknown; '
                             f'use one of {sorted(self.arch_settings)}.')
        conv_makers, layers, stem = self.arch_settings[arch]
        net = VideoResNet(BasicBlock, conv_makers, layers, stem)
        self.stem = net.stem
        self.layer1, self.layer2 = net.layer1, net.layer2
        self.layer3, self.layer4 = net.layer3, net.layer4
        self.arch = arch
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        modules = [
            self.stem, self.layer1, self.layer2, self.layer3, self.layer4
        ][:self.frozen_stages + 1]
        for module in modules:
            module.eval()
            for p in module.parameters():
                p.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return (x, )

    def train(self, mode: bool = True) -> 'VideoResNetBackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
