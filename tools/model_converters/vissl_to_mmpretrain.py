# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Convert a VISSL ResNet trunk checkpoint to mmpretrain's key names.

VISSL's model-zoo and training checkpoints keep the trunk in
``classy_state_dict['base_model']['model']['trunk']`` (or
``model_state_dict``) as ``_feature_blocks.*``: torchvision's ResNet under
another prefix (VISSL's ``extra_scripts/convert_vissl_to_torchvision.py``).
The heads are dropped.

The output holds ``state_dict`` (``backbone.*``) and ``meta`` (the
source file, its sha256, the layout read). Use it as a ClusterFit source,
``source=dict(config=..., checkpoint=DST)``, or in any mmpretrain config:
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
The hook reads VISSL checkpoints without converting them too
(``source=dict(..., checkpoint=SRC, checkpoint_format='vissl')``, or
``'auto'``).

Example:
    python tools/model_converters/vissl_to_mmpretrain.py \\
        model_final_checkpoint_phase104.torch \\
        checkpoints/vissl_r50_mmpretrain.pth
"""
from clusterfit_plugin.models.checkpoint_formats import converter_main

if __name__ == '__main__':
    converter_main('vissl', __doc__)
