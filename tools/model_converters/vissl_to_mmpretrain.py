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
import argparse

from clusterfit_plugin.models.checkpoint_formats import convert_checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='a VISSL checkpoint (.torch / .pth)')
    parser.add_argument('dst', help='output .pth')
    args = parser.parse_args()
    fmt, count = convert_checkpoint(args.src, args.dst, 'vissl')
    print(f'wrote {args.dst}: {count} tensors of {args.src} ({fmt} '
          "layout) under mmpretrain's names; load it with source="
          f"dict(config=..., checkpoint='{args.dst}') or init_cfg=dict("
          f"type='Pretrained', checkpoint='{args.dst}', prefix='backbone.')")


if __name__ == '__main__':
    main()
