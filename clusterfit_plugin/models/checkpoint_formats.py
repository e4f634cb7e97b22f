# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Checkpoints from outside OpenMMLab, in mmpretrain's key names.

The sources ClusterFit's users hold are often not mmpretrain checkpoints:

* ``'vissl'``: VISSL trunks, ``classy_state_dict -> base_model -> model ->
  trunk`` (or ``model_state_dict``) with keys ``_feature_blocks.conv1.weight``,
  ``_feature_blocks.layer1.0.conv1.weight``, ... (VISSL's ``ResNeXt`` trunk
  is torchvision's ResNet under ``_feature_blocks``; its
  ``extra_scripts/convert_vissl_to_torchvision.py`` strips that prefix).
* ``'torchvision'``: ``torchvision.models.resnet*`` state dicts, keys
  ``conv1.weight``, ``layer1.0.conv1.weight``, ..., ``fc.weight``.
* ``'moco'``: the official MoCo checkpoints, ``state_dict`` with
  ``module.encoder_q.*`` (v1, v2: the query encoder, a torchvision ResNet
  whose ``fc`` is the projection) or ``module.base_encoder.*`` (v3 ResNet);
  what their ``main_lincls.py`` keeps, without the projection ``fc``.

mmpretrain's ``ResNet`` (``style='pytorch'``) has torchvision's module names,
so each layout maps to ``backbone.{torchvision name}`` (a torchvision
``fc`` to ``head.fc``). ``'mmpretrain'`` keys (Runner or published
checkpoints) are kept, with a DDP ``module.`` prefix removed.
"""
import argparse
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

import torch

from ..fileio import atomic_save_torch, load_torch, sha256_file

# The layouts this module reads.
FORMATS = ('mmpretrain', 'vissl', 'torchvision', 'moco')

DESCRIPTIONS = dict(
    mmpretrain="mmpretrain's (backbone.*)",
    vissl="VISSL's trunk (_feature_blocks.*)",
    torchvision="torchvision's ResNet (conv1.*, layer1.*, fc.*)",
    moco="the official MoCo's (module.encoder_q.* / module.base_encoder.*)")

_MOCO_ENCODERS = ('module.encoder_q.', 'module.base_encoder.', 'encoder_q.',
                  'base_encoder.')


def _vissl_trunk(checkpoint: dict) -> dict:
    """The trunk's state dict of a VISSL checkpoint."""
    if 'classy_state_dict' in checkpoint:
        try:
            return checkpoint['classy_state_dict']['base_model']['model'][
                'trunk']
        except (KeyError, TypeError) as e:
            raise ValueError(
                'a VISSL checkpoint (it has classy_state_dict) without '
                f'classy_state_dict.base_model.model.trunk ({e!r}).') from e
    if 'model_state_dict' in checkpoint:
        return checkpoint['model_state_dict']
    return checkpoint.get('state_dict', checkpoint)


def state_dict_of(checkpoint: Any) -> Dict[str, Any]:
    """The tensors of a loaded checkpoint, whatever its wrapping.

    Args:
        checkpoint: what ``torch.load`` returned.

    Returns:
        dict: key -> tensor (VISSL's trunk, ``state_dict``, or the dict).
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'holds a {type(checkpoint).__name__}, not a state '
                         'dict.')
    state = (
        _vissl_trunk(checkpoint) if 'classy_state_dict' in checkpoint
        or 'model_state_dict' in checkpoint else checkpoint.get(
            'state_dict', checkpoint))
    if not isinstance(state, dict):
        raise ValueError(f'holds a {type(state).__name__} where its state '
                         'dict should be.')
    return state


def detect_format(checkpoint: Any) -> str:
    """The layout of a loaded checkpoint.

    Args:
        checkpoint: what ``torch.load`` returned.

    Returns:
        str: one of :data:`FORMATS`.
    """
    if isinstance(checkpoint, dict) and ('classy_state_dict' in checkpoint
                                         or 'model_state_dict' in checkpoint):
        return 'vissl'
    keys = list(state_dict_of(checkpoint))
    if any(
            k.startswith(('_feature_blocks.', 'trunk._feature_blocks.'))
            for k in keys):
        return 'vissl'
    if any(k.startswith(_MOCO_ENCODERS) for k in keys):
        return 'moco'
    bare = [k[len('module.'):] if k.startswith('module.') else k for k in keys]
    if 'conv1.weight' in bare and any(k.startswith('layer1.')
                                      for k in bare) and not any(
                                          k.startswith('backbone.')
                                          for k in bare):
        return 'torchvision'
    return 'mmpretrain'


def _from_torchvision(state: dict) -> dict:
    """torchvision ResNet keys -> mmpretrain ImageClassifier keys."""
    out = {}
    for key, value in state.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        out[('head.' if key.startswith('fc.') else 'backbone.') + key] = value
    return out


def _from_vissl(state: dict) -> dict:
    trunk = {}
    for key, value in state.items():
        for prefix in ('module.', 'trunk.', '_feature_blocks.'):
            if key.startswith(prefix):
                key = key[len(prefix):]
        trunk[key] = value
    return _from_torchvision(trunk)


def _from_moco(state: dict) -> dict:
    encoder = next(
        (p for p in _MOCO_ENCODERS if any(k.startswith(p) for k in state)),
        None)
    if encoder is None:
        raise ValueError('has no module.encoder_q.* (MoCo v1 / v2) or '
                         'module.base_encoder.* (MoCo v3) keys')
    if any(k.startswith(encoder + 'patch_embed.') for k in state):
        raise ValueError(
            'is a MoCo v3 vision transformer; only ResNet encoders are '
            'converted (their keys are torchvision\'s). Convert the ViT '
            "with its own tools (moco-v3's convert_to_deit.py) and give a "
            'matching mmpretrain config')
    trunk = {
        k[len(encoder):]: v
        for k, v in state.items()
        if k.startswith(encoder) and not k.startswith(encoder + 'fc.')
    }
    return _from_torchvision(trunk)


def _from_mmpretrain(state: dict) -> dict:
    return {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state.items()
    }


_CONVERTERS = dict(
    mmpretrain=_from_mmpretrain,
    vissl=_from_vissl,
    torchvision=_from_torchvision,
    moco=_from_moco)


def to_mmpretrain(checkpoint: Any,
                  checkpoint_format: str = 'auto',
                  name: str = 'checkpoint') -> Tuple[Dict[str, Any], str]:
    """A loaded checkpoint's tensors in mmpretrain's key names.

    Args:
        checkpoint: what ``torch.load`` returned.
        checkpoint_format (str): one of :data:`FORMATS`, or ``'auto'``
            (default) to detect it.
        name (str): the file, for messages.

    Returns:
        tuple: the state dict (``backbone.*``, and ``head.fc.*`` of a
        torchvision classifier), and the layout it was read as.
    """
    try:
        detected = detect_format(checkpoint)
    except ValueError as e:
        raise ValueError(f'{name} {e}') from e
    fmt = detected if checkpoint_format == 'auto' else checkpoint_format
    if fmt not in _CONVERTERS:
        raise ValueError(f'checkpoint_format={checkpoint_format!r} is '
                         f"unknown; use 'auto' or one of {FORMATS}.")
    if fmt != detected:
        raise ValueError(f'{name} was given as checkpoint_format={fmt!r} '
                         f'({DESCRIPTIONS[fmt]} keys), but its keys are in '
                         f'{DESCRIPTIONS[detected]} layout. Set '
                         f"checkpoint_format='{detected}' or 'auto'.")
    try:
        return _CONVERTERS[fmt](state_dict_of(checkpoint)), fmt
    except ValueError as e:
        raise ValueError(f'{name} {e}.') from e


def convert_checkpoint(src: str,
                       dst: str,
                       checkpoint_format: str = 'auto') -> Tuple[str, int]:
    """Write a checkpoint from elsewhere in mmpretrain's key names.

    Args:
        src (str): the checkpoint (VISSL, torchvision, MoCo, ...).
        dst (str): the output ``.pth``: ``state_dict`` (``backbone.*``) and
            ``meta`` (the source file, its sha256 and layout), written
            atomically.
        checkpoint_format (str): the layout of ``src``, or ``'auto'``.

    Returns:
        tuple: the layout read and the number of tensors written.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'{src!r} does not exist.')
    state, fmt = to_mmpretrain(
        load_torch(src, 'checkpoint'), checkpoint_format, src)
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not any(k.startswith('backbone.') for k in state):
        raise ValueError(f'{src} has no backbone tensors in '
                         f'{DESCRIPTIONS[fmt]} layout.')
    atomic_save_torch(
        dst,
        dict(
            state_dict=state,
            meta=dict(
                converted_from=osp.basename(src),
                source_sha256=sha256_file(src),
                checkpoint_format=fmt)))
    return fmt, len(state)


def converter_main(checkpoint_format: str,
                   description: str,
                   argv: Optional[List[str]] = None) -> None:
    """The command line of ``tools/model_converters/{fmt}_to_mmpretrain.py``:
    ``SRC DST``, converted by :func:`convert_checkpoint`.

    Args:
        checkpoint_format (str): the layout the tool reads.
        description (str): the tool's docstring.
        argv (list[str], optional): the arguments. Defaults to
            ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help=f'a {checkpoint_format} checkpoint')
    parser.add_argument('dst', help='output .pth')
    args = parser.parse_args(argv)
    fmt, count = convert_checkpoint(args.src, args.dst, checkpoint_format)
    print(f'wrote {args.dst}: {count} tensors of {args.src} ({fmt} layout) '
          "under mmpretrain's names; load it with source=dict(config=..., "
          f"checkpoint='{args.dst}') or init_cfg=dict(type='Pretrained', "
          f"checkpoint='{args.dst}', prefix='backbone.')")
