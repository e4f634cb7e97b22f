"""What ``tools/train.py`` and ``tools/test.py`` share: config merging and a
distributed setup that works on machines without CUDA."""
import os
from copy import deepcopy

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict


def set_dataloader_defaults(cfg: Config, pin_memory: bool = True,
                            persistent_workers: bool = True) -> None:
    """mmpretrain's dataloader defaults for every dataloader in ``cfg``.

    ``persistent_workers`` is turned off for loaders without workers, where
    torch rejects it. Also drops the ``_scope_`` key that mmengine adds to the ``collate_fn``
    of configs inherited through ``'mmpretrain::'``: the Runner passes it on
    to the collate function, which rejects it.

    Args:
        cfg (Config): the config, changed in place.
        pin_memory (bool): default ``pin_memory``. Defaults to True.
        persistent_workers (bool): default ``persistent_workers``.
            Defaults to True.
    """
    defaults = ConfigDict(
        pin_memory=pin_memory,
        persistent_workers=persistent_workers,
        collate_fn=dict(type='default_collate'))
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field, None) is None:
            continue
        loader = deepcopy(defaults)
        loader.update(cfg[field])
        if not pin_memory:
            loader.pin_memory = False
        if not persistent_workers or loader.get('num_workers', 0) == 0:
            # torch rejects persistent workers when there are none.
            loader.persistent_workers = False
        if isinstance(loader.collate_fn, dict):
            loader.collate_fn.pop('_scope_', None)
        cfg[field] = loader


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Prepare a distributed run; without CUDA, use gloo on the CPU.

    mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and the
    config's ``dist_cfg`` usually names nccl; neither works without a GPU.
    There the process group is initialised here with gloo (mmengine then
    keeps it) and DDP is built without ``device_ids``. Nothing changes when
    CUDA is available.

    Args:
        cfg (Config): the config, changed in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', ConfigDict())
    cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.device_ids = None
    cfg.model_wrapper_cfg = wrapper
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
