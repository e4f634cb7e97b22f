# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Checks of a ClusterFit config before the Runner builds anything.

Each catches a config that would build and then train on something other
than what was asked, or fail only after the whole clustering:

* K stated differently in the hook, the head, the data preprocessor (whose
  ``num_classes`` Mixup / CutMix one-hot encode with), the dataset wrapper
  and the manifest beside a ``label_file``;
* a ClusterFit head merged into a recipe's head (no ``_delete_=True``);
* a ``Pretrained`` init whose ``prefix`` matches none of the file's keys
  (mmengine then only warns and leaves the module random).
"""
import json
import os.path as osp
from typing import Iterator, List, Tuple

import torch
from mmengine.config import Config


def _model_preprocessor(cfg: Config):
    """The data preprocessor the Runner gives the model (the model's own
    entry wins over the top-level one)."""
    model = cfg.get('model') or {}
    return model.get('data_preprocessor') or cfg.get('data_preprocessor')


def _label_file_k(path: str):
    """K recorded in the manifest beside a hook-written ``labels.npy``."""
    manifest = osp.join(osp.dirname(path), 'manifest.json')
    if not osp.isfile(manifest):
        return None
    try:
        with open(manifest, encoding='utf-8') as f:
            return json.load(f).get('num_clusters')
    except (OSError, ValueError, AttributeError):
        return None


def num_clusters_places(cfg: Config) -> List[Tuple[str, int]]:
    """Every place of a config that states K, with its value.

    Args:
        cfg (Config): a ClusterFit config.

    Returns:
        list[tuple]: (config key, K) pairs.
    """
    places = []
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if hook.get('type') == 'ClusterFitHook':
            places.append(
                (f'custom_hooks.{i}.num_clusters', hook.get('num_clusters')))
    head = (cfg.get('model') or {}).get('head')
    if isinstance(head, dict) and head.get('type') == 'ClusterFitHead':
        places.append(('model.head.num_clusters', head.get('num_clusters')))
    preprocessor = _model_preprocessor(cfg)
    if isinstance(preprocessor,
                  dict) and preprocessor.get('num_classes') is not None:
        where = ('model.data_preprocessor' if
                 (cfg.get('model')
                  or {}).get('data_preprocessor') else 'data_preprocessor')
        places.append((f'{where}.num_classes', preprocessor['num_classes']))
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    if dataset.get('type') == 'ClusterFitDataset':
        if dataset.get('num_clusters') is not None:
            places.append(('train_dataloader.dataset.num_clusters',
                           dataset['num_clusters']))
        if dataset.get('label_file'):
            k = _label_file_k(dataset['label_file'])
            if k is not None:
                places.append(
                    (f"the manifest beside label_file={dataset['label_file']}",
                     k))
    return places


def check_num_clusters(cfg: Config) -> None:
    """Refuse a config that states different Ks.

    Args:
        cfg (Config): the config.

    Raises:
        ValueError: lists every place and its K, and the fix.
    """
    places = num_clusters_places(cfg)
    if len({value for _, value in places}) > 1:
        listed = ', '.join(f'{key}={value}' for key, value in places)
        raise ValueError(
            f'{cfg.filename}: K differs between {listed}. Mixup / CutMix '
            "one-hot encode with the data preprocessor's num_classes, the "
            'head predicts its num_clusters, the hook clusters into its '
            'num_clusters: they must all be K. Set them together with '
            'tools/train.py --num-clusters K.')


def check_merged_head(cfg: Config) -> None:
    """Refuse a ClusterFit head merged into a recipe's head.

    Args:
        cfg (Config): the config.
    """
    head = (cfg.get('model') or {}).get('head')
    if not isinstance(head, dict) or 'num_clusters' not in head:
        return
    if head.get('type') != 'ClusterFitHead':
        raise ValueError(
            f'{cfg.filename}: model.head is a {head.get("type")} with '
            'num_clusters: the ClusterFit head was merged into the recipe\'s '
            'head. Write model=dict(head=dict(_delete_=True, type='
            "'ClusterFitHead', num_clusters=K, in_channels=...)).")


def _pretrained_inits(cfg, path: str = 'model') -> Iterator[Tuple[str, dict]]:
    """(config key, init) of every ``Pretrained`` init, at any depth."""
    if isinstance(cfg, dict):
        inits = cfg.get('init_cfg')
        for init in inits if isinstance(inits, list) else [inits]:
            if isinstance(init, dict) and init.get('type') == 'Pretrained':
                yield path, init
        for key, value in cfg.items():
            if key != 'init_cfg':
                yield from _pretrained_inits(value, f'{path}.{key}')
    elif isinstance(cfg, list):
        for i, value in enumerate(cfg):
            yield from _pretrained_inits(value, f'{path}.{i}')


def check_pretrained_prefixes(cfg: Config) -> None:
    """Refuse a ``Pretrained`` init whose ``prefix`` matches no key of its
    (local) file: mmengine would load nothing and only warn.

    A published ClusterFit backbone keeps ``backbone.`` in its keys and
    needs ``prefix='backbone.'``; its ``-bare`` twin, and mmselfsup's
    exports, need none.

    Args:
        cfg (Config): the config.
    """
    for where, init in _pretrained_inits(cfg.get('model')):
        path, prefix = init.get('checkpoint'), init.get('prefix')
        if not isinstance(path, str) or not osp.isfile(path):
            continue
        try:
            state = torch.load(
                path, map_location='cpu', weights_only=True, mmap=True)
        except Exception:  # the Runner's own load says what is wrong
            continue
        state = state.get('state_dict', state) if isinstance(state,
                                                             dict) else {}
        keys = [k for k in state if isinstance(k, str)]
        if not keys:
            continue
        firsts = sorted({k.split('.')[0] for k in keys})
        if prefix and not any(k.startswith(prefix) for k in keys):
            raise ValueError(
                f'{cfg.filename}: {where}.init_cfg loads {path} with prefix='
                f'{prefix!r}, but no key of that file starts with it (its '
                f'keys start with {firsts[:5]}): nothing would be loaded. '
                'Drop prefix (a bare file, such as publish_model.py\'s '
                '-bare one) or give the prefix its keys have.')
        if not prefix and len(firsts) == 1 and where != 'model' and (
                where.rsplit('.', 1)[-1] == firsts[0]):
            raise ValueError(
                f'{cfg.filename}: {where}.init_cfg loads {path} without '
                f'prefix, but every key of that file starts with '
                f"'{firsts[0]}.': nothing would be loaded and {where} would "
                f"stay random. Add prefix='{firsts[0]}.', or load the -bare "
                'file that tools/model_converters/publish_model.py writes.')


def check_training_entries(cfg: Config) -> None:
    """Raise when a config lacks what the Runner needs to train (an empty
    file, or a model-only config given to ``tools/train.py``).

    Args:
        cfg (Config): the config.
    """
    missing = [
        key
        for key in ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper')
        if key not in cfg
    ]
    if missing:
        raise ValueError(
            f'{cfg.filename} has no {", ".join(missing)}: it is not a '
            'training config. Give a config that sets model, '
            'train_dataloader, train_cfg and optim_wrapper (or inherits them '
            'through _base_), e.g. configs/clusterfit_r50.py.')


def check_config(cfg: Config) -> None:
    """The checks of the merged config (tools/train.py runs them before the
    Runner, after :func:`check_training_entries` on the file as read).

    Args:
        cfg (Config): the merged config.
    """
    check_merged_head(cfg)
    check_num_clusters(cfg)
    check_pretrained_prefixes(cfg)
