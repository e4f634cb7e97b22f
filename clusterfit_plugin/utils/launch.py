# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What ``tools/train.py`` and ``tools/test.py`` share: config merging and a
distributed setup that works on machines without CUDA."""
import argparse
import os
import os.path as osp
import subprocess
from copy import deepcopy
from typing import Callable

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.dist import init_dist


def add_runner_args(parser: argparse.ArgumentParser,
                    dataloaders: bool = True,
                    launcher: bool = True) -> None:
    """The flags the tools share (mmpretrain's names).

    Args:
        parser (ArgumentParser): the tool's parser, extended in place.
        dataloaders (bool): add ``--no-pin-memory`` and
            ``--no-persistent-workers`` (tools that build dataloaders).
            Defaults to True.
        launcher (bool): add ``--launcher`` and ``--local-rank`` (tools that
            run on several ranks). Defaults to True.
    """
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value, e.g. '
        'custom_hooks.0.kmeans.niter=20 train_cfg.max_epochs=5')
    if dataloaders:
        parser.add_argument(
            '--no-pin-memory',
            action='store_true',
            help='disable pin_memory in dataloaders')
        parser.add_argument(
            '--no-persistent-workers',
            action='store_true',
            help='disable persistent_workers in dataloaders')
    if launcher:
        parser.add_argument(
            '--launcher',
            choices=['none', 'pytorch', 'slurm', 'mpi'],
            default='none',
            help='job launcher')
        # torch.distributed.launch passes --local-rank (torchrun sets the
        # env).
        parser.add_argument(
            '--local_rank', '--local-rank', type=int, default=0)


def apply_runner_args(cfg: Config,
                      args: argparse.Namespace,
                      init_distributed: bool = False) -> None:
    """Apply the shared flags: work dir, config overrides, dataloader
    defaults and the launcher.

    Args:
        cfg (Config): the config, changed in place.
        args (Namespace): parsed flags of :func:`add_runner_args`.
        init_distributed (bool): start the process group here (tools that
            run without a Runner; the Runner starts its own). Defaults to
            False.
    """
    launcher = getattr(args, 'launcher', 'none')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(getattr(args, 'local_rank', 0))
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.cfg_options is not None:
        # Before the dataloader defaults, which depend on num_workers.
        cfg.merge_from_dict(args.cfg_options)
    set_dataloader_defaults(cfg, not getattr(args, 'no_pin_memory', False),
                            not getattr(args, 'no_persistent_workers', False))
    setup_launcher(cfg, launcher)
    if init_distributed and launcher != 'none' and not (
            torch_dist.is_available() and torch_dist.is_initialized()):
        init_dist(launcher, **cfg.get('env_cfg', {}).get('dist_cfg', {}))


def set_dataloader_defaults(cfg: Config,
                            pin_memory: bool = True,
                            persistent_workers: bool = True) -> None:
    """mmpretrain's dataloader defaults for every dataloader in ``cfg``.

    ``persistent_workers`` is turned off for loaders without workers, where
    torch rejects it. Also drops the ``_scope_`` key that mmengine adds to
    the ``collate_fn`` of configs inherited through ``'mmpretrain::'``: the
    Runner passes it on to the collate function, which rejects it.

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

    mmengine's ``pytorch`` and ``slurm`` launchers call
    ``torch.cuda.set_device`` and the config's ``dist_cfg`` usually names
    nccl; neither works without a GPU. There the process group is
    initialised here with gloo (mmengine then keeps it), from the variables
    torchrun or slurm set (for slurm as mmengine reads them: ``SLURM_PROCID``,
    ``SLURM_NTASKS``, ``SLURM_LOCALID``, ``MASTER_ADDR`` or the first host
    of ``SLURM_NODELIST``, ``MASTER_PORT`` or 29500), and DDP is built
    without ``device_ids``. Nothing changes when CUDA is available.

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
    if torch_dist.is_initialized() or launcher not in ('pytorch', 'slurm'):
        return
    if launcher == 'slurm':
        os.environ['RANK'] = os.environ['SLURM_PROCID']
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f"scontrol show hostname {os.environ['SLURM_NODELIST']} | "
                'head -n1')
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']))


def start_launcher(launcher: str) -> None:
    """Start the process group of a tool that has no Runner config (the
    evaluation tools): gloo on the CPU (:func:`setup_launcher`), mmengine's
    ``init_dist`` with nccl where CUDA is.

    Args:
        launcher (str): ``'none'``, ``'pytorch'`` or ``'slurm'``.
    """
    setup_launcher(Config(), launcher)
    if launcher != 'none' and not (torch_dist.is_available()
                                   and torch_dist.is_initialized()):
        init_dist(launcher, backend='nccl')


def run_tool(main: Callable[[], None]) -> None:
    """Run a tool's ``main`` and, once it succeeded, destroy the process
    group (:func:`shutdown_distributed`).

    Args:
        main (callable): the tool's entry point.
    """
    main()
    shutdown_distributed()


def shutdown_distributed() -> None:
    """Destroy the default process group at the end of a successful run.

    Without it, gloo's worker threads can still hold work objects while the
    interpreter is being finalised, and a rank whose run succeeded aborts
    at exit with "terminate called without an active exception"
    (pytorch/pytorch#190489; seen once here in ``tools/dist_test.sh``).
    Call it only after success: after a failure the other ranks may be
    inside a collective that the destruction would wait for.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
