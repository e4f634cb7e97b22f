# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Convert a torchvision ResNet state dict to mmpretrain's key names.

mmpretrain's ResNet has torchvision's module names: every key goes under
``backbone.``, and ``fc`` under ``head.`` (as mmpretrain's own
``torchvision_to_mmpretrain.py``).

The output holds ``state_dict`` (``backbone.*``, and ``head.fc.*``) and
``meta`` (the source file, its sha256, the layout read). Use it as a
ClusterFit source, ``source=dict(config=..., checkpoint=DST)``, or in any
mmpretrain config:
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
The hook reads torchvision checkpoints without converting them too
(``source=dict(..., checkpoint=SRC, checkpoint_format='torchvision')``, or
``'auto'``).

Example:
    python tools/model_converters/torchvision_to_mmpretrain.py \\
        resnet50-11ad3fa6.pth checkpoints/torchvision_r50_mmpretrain.pth
"""
from clusterfit_plugin.models.checkpoint_formats import converter_main

if __name__ == '__main__':
    converter_main('torchvision', __doc__)
