# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Publish a ClusterFit checkpoint's backbone for downstream use.

A Runner checkpoint holds mmengine objects (the message hub, its
``HistoryBuffer``) that ``torch.load(weights_only=True)`` refuses unless the
plugin is imported. This tool writes the weights under ``--prefix`` (the
backbone by default) as plain dicts of tensors, in two forms, so that any
stock mmpretrain / mmdet / mmseg config loads them without the plugin:

* ``OUT_DATE-SHA.pth`` keeps the keys (``backbone.conv1.weight``)::

      backbone=dict(init_cfg=dict(
          type='Pretrained', checkpoint='OUT_DATE-SHA.pth',
          prefix='backbone.'))

* ``OUT-bare_DATE-SHA.pth`` drops the prefix (``conv1.weight``), for
  configs that load without ``prefix`` (mmselfsup's habit)::

      backbone=dict(init_cfg=dict(
          type='Pretrained', checkpoint='OUT-bare_DATE-SHA.pth'))

Each form loaded the other way matches no key and leaves the backbone
random (mmengine only warns), hence both. As OpenMMLab publishes models, the
file names end with the date and the first 8 hex digits of the file's
sha256.

Example:
    python tools/model_converters/publish_model.py \
        work_dirs/clusterfit_r50/epoch_105.pth \
        work_dirs/publish/clusterfit_r50_in1k.pth
"""
import argparse
import datetime
import os
import os.path as osp
import tempfile
from typing import Optional, Tuple

import torch

import clusterfit_plugin  # noqa: F401  (loads Runner checkpoints safely)
from clusterfit_plugin.fileio import load_torch, sha256_file
from clusterfit_plugin.version import __version__


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_file', help='a Runner checkpoint (epoch_N.pth)')
    parser.add_argument(
        'out_file', help='output name; _DATE-SHA.pth is appended')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help="keep the weights whose key starts with this ('' = the whole "
        'model)')
    return parser.parse_args()


def _save_named(obj: dict, stem: str) -> str:
    """Save ``obj`` as ``{stem}_{YYYYMMDD}-{sha256[:8]}.pth``, through an
    exclusively created temporary file (never through a planted link)."""
    directory = osp.dirname(osp.abspath(stem))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(stem)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
        date = datetime.date.today().strftime('%Y%m%d')
        final = f'{stem}_{date}-{sha256_file(tmp)[:8]}.pth'
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return final


def publish(in_file: str,
            out_file: str,
            prefix: str = 'backbone.') -> Tuple[str, Optional[str]]:
    """Write the weights of ``in_file`` under ``prefix`` as plain tensors,
    with the keys kept and with ``prefix`` dropped.

    Args:
        in_file (str): a Runner checkpoint.
        out_file (str): output name (``.pth`` optional).
        prefix (str): the key prefix to keep. Defaults to ``'backbone.'``.

    Returns:
        tuple: the paths written, ``{out_file}_{YYYYMMDD}-{sha256[:8]}.pth``
        (keys kept) and ``{out_file}-bare_...`` (prefix dropped; None when
        ``prefix`` is ``''``).
    """
    checkpoint = load_torch(in_file, 'checkpoint')
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{in_file} holds a {type(checkpoint).__name__}, '
                         'not a checkpoint dict with a state_dict; give '
                         "the Runner's checkpoint (epoch_N.pth).")
    weights = {
        key: value.detach().contiguous().clone()
        for key, value in state.items()
        if key.startswith(prefix) and isinstance(value, torch.Tensor)
    }
    if not weights:
        heads = sorted({key.split('.')[0] for key in state})
        raise ValueError(
            f'{in_file} has no weights whose key starts with {prefix!r} '
            f'(its keys start with {heads}); pass --prefix.')
    meta = dict(
        source_checkpoint=osp.basename(in_file),
        source_sha256=sha256_file(in_file),
        prefix=prefix,
        clusterfit_plugin=__version__)
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    kept = _save_named(dict(state_dict=weights, meta=meta), stem)
    if not prefix:
        return kept, None
    bare = {key[len(prefix):]: value for key, value in weights.items()}
    return kept, _save_named(
        dict(state_dict=bare, meta=dict(meta, prefix='')), f'{stem}-bare')


def main():
    args = parse_args()
    kept, bare = publish(args.in_file, args.out_file, args.prefix)
    print(f'wrote {kept}: the weights under {args.prefix!r} as plain tensors '
          '(torch.load(..., weights_only=True) needs no plugin); load it '
          f"with init_cfg=dict(type='Pretrained', checkpoint='{kept}', "
          f"prefix='{args.prefix}')")
    if bare is not None:
        print(f'wrote {bare}: the same weights without {args.prefix!r}; '
              "load it with init_cfg=dict(type='Pretrained', "
              f"checkpoint='{bare}') (no prefix)")


if __name__ == '__main__':
    main()
