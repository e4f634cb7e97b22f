# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Convert official MoCo v1, v2 and v3 ResNet checkpoints to mmpretrain keys.

The checkpoints of facebookresearch/moco (``module.encoder_q.*``) and
moco-v3 (``module.base_encoder.*``): the query (base) encoder without its
projection ``fc``, as their ``main_lincls.py`` keeps it. The key encoder,
the queue and the predictor are dropped. MoCo v3 vision transformers are
refused.

The output holds ``state_dict`` (``backbone.*``) and ``meta`` (the
source file, its sha256, the layout read). Use it as a ClusterFit source,
``source=dict(config=..., checkpoint=DST)``, or in any mmpretrain config:
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
The hook reads MoCo checkpoints without converting them too
(``source=dict(..., checkpoint=SRC, checkpoint_format='moco')``, or
``'auto'``).

Example:
    python tools/model_converters/moco_to_mmpretrain.py \\
        moco_v2_800ep_pretrain.pth.tar checkpoints/moco_r50_mmpretrain.pth
"""
from clusterfit_plugin.models.checkpoint_formats import converter_main

if __name__ == '__main__':
    converter_main('moco', __doc__)
