# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Suites of transfer benchmarks run on one checkpoint
(``tools/analysis_tools/benchmark_suite.py``): each benchmark is a data
config of ``configs/benchmarks/transfer/``; each finished one is recorded,
so a second run only does what is left; a benchmark whose data is missing
is listed with the files its config expects, not run."""
import dataclasses
import json
import os.path as osp
from typing import Callable, Dict, List, Optional, Tuple

from mmengine.config import Config

from ..fileio import atomic_save_json, sha256_file
from ..models.builder import load_config
from ..settings import check_keys
from .model_eval import EvalSettings, evaluate_model

SUITES: Dict[str, Tuple[str, ...]] = {
    # The paper's image targets that have public data: VOC07 by SVMs
    # (all of trainval, and VISSL's low-shot draws), then linear probes.
    'paper-image': ('voc07_svm', 'voc07_low-shot_svm', 'in1k_linear',
                    'places205_linear', 'inat2018_linear'),
    'paper-video':
    tuple(f'{name}-split{split}_linear' for name in ('ucf101', 'hmdb51')
          for split in (1, 2, 3)),
    'fine-grained':
    ('food101_linear', 'oxford-pets_linear', 'cub_linear',
     'fgvc-aircraft_linear', 'stanford-cars_linear', 'flowers102_linear',
     'dtd_linear', 'caltech101_linear', 'sun397_linear'),
}
BENCHMARK_KEYS = ('name', 'protocols', 'expects')
SPLITS = ('eval_train_dataset', 'eval_test_dataset')


def load_benchmark(path: str, data_root: Optional[str] = None) -> Config:
    """A benchmark's data config, its data under ``data_root``.

    Args:
        path (str): the config file.
        data_root (str, optional): replaces the leading ``data/`` of the
            config's data roots (``--data-root``); None keeps them.

    Returns:
        Config: the config, with ``benchmark`` checked.
    """
    cfg = load_config(path)
    bench = cfg.get('benchmark')
    if not isinstance(bench, dict):
        raise ValueError(f'{path}: no benchmark=dict(name=..., protocols=...,'
                         ' expects=...).')
    check_keys(bench, BENCHMARK_KEYS, f'{path} benchmark')
    for split in SPLITS:
        root = cfg[split].get('data_root', '')
        if data_root is not None and (root == 'data'
                                      or root.startswith('data/')):
            cfg[split].data_root = osp.join(data_root, root[len('data/'):])
    return cfg


def missing_files(cfg: Config) -> List[str]:
    """The files and folders the benchmark expects that are not there.

    Args:
        cfg (Config): a benchmark config.

    Returns:
        list[str]: the missing paths.
    """
    root = cfg.eval_train_dataset.get('data_root', '')
    return [
        osp.join(root, name) for name in cfg.benchmark['expects']
        if not osp.exists(osp.join(root, name))
    ]


@dataclasses.dataclass
class SuiteResult:
    """What a suite run gives.

    Attributes:
        rows (list[dict]): the leaderboard rows, run now or before.
        reused (list[str]): benchmarks recorded by an earlier run.
        missing (dict): benchmark -> its missing files.
    """
    rows: List[dict]
    reused: List[str]
    missing: Dict[str, List[str]]


def run_suite(suite: str,
              config: str,
              checkpoint: Optional[str],
              name: str,
              source_name: str,
              settings: EvalSettings,
              work_dir: str,
              command: str,
              configs_dir: str,
              data_root: Optional[str] = None,
              log: Callable[[str], None] = print) -> SuiteResult:
    """Run every benchmark of a suite whose data is there.

    Args:
        suite (str): a key of :data:`SUITES`.
        config (str): the model's config file.
        checkpoint (str, optional): its weights; None for a random init.
        name (str): the rows' method name.
        source_name (str): the source the model came from.
        settings (EvalSettings): extraction settings (each benchmark sets
            its protocols and C grid).
        work_dir (str): where each benchmark's row is recorded, with what
            made it (checkpoint, name, source, stage, VISSL layer,
            classifier): a record of another evaluation is run again.
        command (str): the command line, recorded in the rows.
        configs_dir (str): the folder of the benchmark configs.
        data_root (str, optional): see :func:`load_benchmark`.
        log (callable): prints progress.

    Returns:
        SuiteResult: the rows, what was reused, what is missing (the rows
        of the benchmarks run now only on rank 0: with ``feature_dir``,
        every rank extracts its shard and rank 0 scores).
    """
    if suite not in SUITES:
        raise ValueError(f'unknown suite {suite!r}; use one of '
                         f'{sorted(SUITES)}.')
    checkpoint_id = (
        sha256_file(checkpoint)[:8]
        if checkpoint else f'random-init-{settings.init_seed}')
    # What makes a recorded row this evaluation's.
    key = dict(
        checkpoint=checkpoint_id,
        method=name,
        source=source_name,
        stage=settings.stage,
        vissl_layer=settings.vissl_layer,
        classifier=settings.classifier,
        channels_last=settings.channels_last)
    result = SuiteResult(rows=[], reused=[], missing={})
    for bench in SUITES[suite]:
        path = osp.join(configs_dir, f'{bench}.py')
        cfg = load_benchmark(path, data_root)
        record = osp.join(work_dir, f'{bench}.json')
        done = _read(record)
        if done is not None and done.get('key') == key:
            log(f'{bench}: done before ({record})')
            result.rows.append(done['row'])
            result.reused.append(bench)
            continue
        missing = missing_files(cfg)
        if missing:
            log(f'{bench}: skipped, missing {", ".join(missing)}')
            result.missing[bench] = missing
            continue
        log(f'{bench}: running {cfg.benchmark["protocols"]}')
        bench_settings = dataclasses.replace(
            settings,
            protocols=list(cfg.benchmark['protocols']),
            linear_c_grid=cfg.get('eval_linear_c_grid'))
        rows = evaluate_model(
            cfg,
            path,
            config,
            checkpoint,
            name,
            source_name,
            bench_settings,
            command,
            dataset_name=cfg.benchmark['name'])
        for _, row, _ in rows:  # none on ranks other than 0
            atomic_save_json(record, dict(key=key, row=row))
            result.rows.append(row)
    return result


def _read(path: str) -> Optional[dict]:
    """A record (``key`` and ``row``), or None when absent or unreadable
    (run again)."""
    try:
        with open(path, encoding='utf-8') as f:
            row = json.load(f)
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) and 'row' in row else None
