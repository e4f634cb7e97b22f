# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""torchvision's video ResNets as mmpretrain backbones (5-D outputs)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.models.video.resnet import (BasicBlock, Conv2Plus1D,
                                             Conv3DNoTemporal, Conv3DSimple)


def _stem(kind: str, base_channels: int) -> nn.Sequential:
    """torchvision's ``BasicStem`` or ``R2Plus1dStem`` with
    ``base_channels`` outputs (64 in torchvision; the R(2+1)D stem's middle
    width scales with it, 45 at 64)."""
    if kind == 'basic':
        return nn.Sequential(
            nn.Conv3d(
                3,
                base_channels,
                kernel_size=(3, 7, 7),
                stride=(1, 2, 2),
                padding=(1, 3, 3),
                bias=False), nn.BatchNorm3d(base_channels),
            nn.ReLU(inplace=True))
    mid = max(1, 45 * base_channels // 64)
    return nn.Sequential(
        nn.Conv3d(
            3,
            mid,
            kernel_size=(1, 7, 7),
            stride=(1, 2, 2),
            padding=(0, 3, 3),
            bias=False), nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
        nn.Conv3d(
            mid,
            base_channels,
            kernel_size=(3, 1, 1),
            stride=(1, 1, 1),
            padding=(1, 0, 0),
            bias=False), nn.BatchNorm3d(base_channels), nn.ReLU(inplace=True))


def _stage(conv_maker, inplanes: int, planes: int, blocks: int,
           stride: int) -> nn.Sequential:
    """One residual stage, as torchvision's ``VideoResNet._make_layer``."""
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(
            nn.Conv3d(
                inplanes,
                planes,
                kernel_size=1,
                stride=conv_maker.get_downsample_stride(stride),
                bias=False), nn.BatchNorm3d(planes))
    layers = [BasicBlock(inplanes, planes, conv_maker, stride, downsample)]
    layers += [
        BasicBlock(planes, planes, conv_maker) for _ in range(1, blocks)
    ]
    return nn.Sequential(*layers)


@MODELS.register_module()
class VideoResNetBackbone(BaseModule):
    """R3D-18, MC3-18, R(2+1)D-18 and R(2+1)D-34 (the ClusterFit paper's
    video network) with torchvision's blocks, without pooling or classifier.

    With the default width the modules, parameter names and initialisation
    are torchvision's (its checkpoints load as they are); ``base_channels``
    scales every stage for small data or small machines.

    Input ``N x C x T x H x W``; output a tuple with the last stage's
    ``N x 8*base_channels x T' x H' x W'`` map; complete the model with
    ``GlobalAveragePooling(dim=3)`` and a head.

    Args:
        arch (str): ``'r3d_18'``, ``'mc3_18'``, ``'r2plus1d_18'`` or
            ``'r2plus1d_34'`` (layers 3-4-6-3). Defaults to
            ``'r2plus1d_18'``.
        base_channels (int): width of the stem and the first stage; the
            stages are 1, 2, 4 and 8 times it. Defaults to 64 (torchvision).
        frozen_stages (int): stages to freeze (0 = stem only, -1 none), as
            mmpretrain's ResNet. Defaults to -1.
        norm_eval (bool): keep BN layers in eval mode. Defaults to False.
        init_cfg (dict, optional): initialisation (e.g. ``Pretrained``).
    """

    arch_settings = {
        'r3d_18': ([Conv3DSimple] * 4, [2, 2, 2, 2], 'basic'),
        'mc3_18': ([Conv3DSimple] + [Conv3DNoTemporal] * 3, [2, 2, 2,
                                                             2], 'basic'),
        'r2plus1d_18': ([Conv2Plus1D] * 4, [2, 2, 2, 2], 'r2plus1d'),
        'r2plus1d_34': ([Conv2Plus1D] * 4, [3, 4, 6, 3], 'r2plus1d'),
    }

    def __init__(self,
                 arch: str = 'r2plus1d_18',
                 base_channels: int = 64,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'VideoResNetBackbone arch={arch!r} is unknown; '
                             f'use one of {sorted(self.arch_settings)}.')
        if base_channels < 1:
            raise ValueError('VideoResNetBackbone base_channels must be >= 1, '
                             f'got {base_channels}.')
        conv_makers, layers, stem = self.arch_settings[arch]
        self.stem = _stem(stem, base_channels)
        inplanes = base_channels
        for i, (maker, blocks) in enumerate(zip(conv_makers, layers)):
            planes = base_channels * 2**i
            self.add_module(
                f'layer{i + 1}',
                _stage(maker, inplanes, planes, blocks, 1 if i == 0 else 2))
            inplanes = planes
        self.out_channels = inplanes
        self._init_like_torchvision()
        self.arch = arch
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._freeze_stages()

    def _init_like_torchvision(self) -> None:
        """torchvision's ``VideoResNet`` initialisation."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

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
