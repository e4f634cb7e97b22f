# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""What the tests share: tiny real image data, the tiny source model, a
complete ClusterFit config for the Runner, and process helpers.

Import from here (``from helpers import ...``); conftest.py holds only
fixtures.
"""
import contextlib
import copy
import importlib.util
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time
import uuid
from types import ModuleType

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.runner import Runner

TESTS = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(TESTS)

# 45 images: not divisible by world size x batch size (2 x 4).
NUM_IMAGES = 45
NUM_CLUSTERS = 3

BACKBONE = dict(
    type='ResNet_CIFAR',
    depth=18,
    base_channels=4,
    stem_channels=4,
    norm_cfg=dict(type='BN'))
SOURCE_MODEL = dict(
    type='ImageClassifier',
    backbone=BACKBONE,
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=5, in_channels=32))
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def blobs(n: int = 3000, d: int = 16, k: int = 20, seed: int = 0):
    """Well separated Gaussian blobs for the k-means tests.

    Returns:
        tuple: (n, d) float32 points and their (n,) blob ids.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)).astype(np.float32) * 4
    labels = rng.integers(0, k, size=n)
    x = centers[labels] + rng.normal(size=(n, d)).astype(np.float32)
    return x.astype(np.float32), labels


def write_images(root: str, num: int = NUM_IMAGES) -> str:
    """Three visibly different kinds of 16x16 image; returns the ann file."""
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'img'), exist_ok=True)
    lines = []
    for i in range(num):
        kind = i % 3
        img = rng.integers(0, 40, size=(16, 16, 3)).astype(np.uint8)
        if kind == 0:
            img[:, :8] += 200
        elif kind == 1:
            img[8:, :] += 200
        else:
            img[4:12, 4:12, 1] += 210
        cv2.imwrite(osp.join(root, 'img', f'{i:03d}.png'), img)
        lines.append(f'img/{i:03d}.png {kind}\n')
    with open(osp.join(root, 'ann.txt'), 'w') as f:
        f.writelines(lines)
    return osp.join(root, 'ann.txt')


def make_cfg(work_dir: str,
             image_root: str,
             checkpoint: str,
             num_clusters: int = NUM_CLUSTERS,
             max_epochs: int = 1,
             **hook_overrides) -> dict:
    """A complete tiny ClusterFit config for the mmengine Runner."""
    hook = dict(
        type='ClusterFitHook',
        num_clusters=num_clusters,
        source=dict(
            model=copy.deepcopy(SOURCE_MODEL),
            checkpoint=checkpoint,
            stage='backbone'),
        extract_pipeline=copy.deepcopy(PIPELINE),
        kmeans=dict(niter=10, seed=0),
        batch_size=8,
        num_workers=0)
    hook.update(hook_overrides)
    return dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['clusterfit_plugin']),
        work_dir=work_dir,
        experiment_name=f'test_{uuid.uuid4().hex[:8]}',
        model=dict(
            type='ImageClassifier',
            backbone=copy.deepcopy(BACKBONE),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='ClusterFitHead',
                num_clusters=num_clusters,
                in_channels=32)),
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='ClusterFitDataset',
                dataset=dict(
                    type='CustomDataset',
                    data_root=image_root,
                    ann_file='ann.txt',
                    pipeline=copy.deepcopy(PIPELINE)))),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=5)),
        custom_hooks=[hook],
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='INFO')


def image_dataset(image_root: str):
    """The images of :func:`write_images` as a CustomDataset (PIPELINE).

    Args:
        image_root (str): the folder :func:`write_images` wrote.

    Returns:
        CustomDataset: labelled with the image kinds.
    """
    from mmpretrain.registry import DATASETS
    return DATASETS.build(
        dict(
            type='CustomDataset',
            data_root=image_root,
            ann_file='ann.txt',
            pipeline=copy.deepcopy(PIPELINE)))


def tiny_source(checkpoint: str):
    """SOURCE_MODEL built by the plugin with ``checkpoint`` (frozen)."""
    from clusterfit_plugin.engine.source import build_source_model
    return build_source_model(
        dict(
            model=copy.deepcopy(SOURCE_MODEL),
            checkpoint=checkpoint,
            stage='backbone'))


def all_features(model,
                 dataset,
                 stage: str = 'backbone',
                 pipeline=PIPELINE,
                 **kwargs) -> np.ndarray:
    """The plugin's features of every sample of ``dataset``, in this
    process (batch 8 unless given, no workers, no progress bar).

    Args:
        model (nn.Module): the frozen source.
        dataset: an mmengine dataset.
        stage (str): the stage. Defaults to ``'backbone'``.
        pipeline (list[dict]): the extraction pipeline. Defaults to
            PIPELINE.
        **kwargs: more arguments of ``extract_features`` (``amp``, ...).

    Returns:
        np.ndarray: (N, D) features.
    """
    from clusterfit_plugin.engine.extractor import extract_features
    kwargs = dict(dict(batch_size=8, num_workers=0, progress=False), **kwargs)
    return extract_features(model, dataset, pipeline, np.arange(len(dataset)),
                            stage, **kwargs)


def reference_labels(model,
                     dataset,
                     num_clusters: int = NUM_CLUSTERS,
                     pca_dim=None,
                     dtype: str = 'float32',
                     stage: str = 'backbone',
                     pipeline=PIPELINE,
                     batch_size: int = 8,
                     **kmeans) -> np.ndarray:
    """Labels computed outside the hook: the model's features of every
    sample (a bare :func:`all_features`), stored in ``dtype``, PCA-whitened
    to ``pca_dim``, L2-normalised, then faiss-cpu k-means (seed 0, niter 10
    unless given), which equals raw faiss.

    Returns:
        np.ndarray: (N,) labels.
    """
    from clusterfit_plugin.clustering import KMeans, Preprocessor
    feats = all_features(
        model, dataset, stage, pipeline,
        batch_size=batch_size).astype(dtype).astype(np.float32)
    feats = Preprocessor(pca_dim=pca_dim).fit(feats)(feats)
    kmeans = dict(dict(niter=10, seed=0, backend='faiss-cpu'), **kmeans)
    return KMeans(num_clusters, **kmeans).fit(feats).assign(feats)[0]


def run_runner(cfg: dict, resume: bool = False) -> Runner:
    """Train ``cfg`` with the stock mmengine Runner.

    Args:
        cfg (dict): a complete config.
        resume (bool): resume from the work dir's last checkpoint.

    Returns:
        Runner: the runner, after ``train()``.
    """
    cfg = Config(cfg)
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def cache_files(work_dir: str) -> list:
    """The names in a run's ``clusterfit/`` cache directory (sorted), less
    its ``.lock`` (taken by every run, it holds no result)."""
    d = osp.join(work_dir, 'clusterfit')
    names = os.listdir(d) if osp.isdir(d) else []
    return sorted(n for n in names if n != '.lock')


def kill_when(cfg: dict, tmp_path, marker: str, wait: float) -> str:
    """Start tools/train.py on ``cfg``, SIGKILL it ``wait`` s after
    ``marker`` appears in its output; return the output."""
    path = str(tmp_path / f'cfg_{abs(hash(marker))}.py')
    Config(cfg).dump(path)
    env = dict(os.environ, PYTHONPATH=TESTS, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(
        [sys.executable,
         osp.join(ROOT, 'tools', 'train.py'), path],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True)
    out = []
    deadline = time.time() + 120
    for line in proc.stdout:
        out.append(line)
        if marker in line:
            time.sleep(wait)
            break
        assert time.time() < deadline, ''.join(out)[-3000:]
    assert proc.poll() is None, 'the run ended before it could be killed'
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return ''.join(out)


HOLD_LOCK_SCRIPT = """
import sys, time
from clusterfit_plugin.engine.cache import ClusterCache
ClusterCache(sys.argv[1]).acquire()
print('locked', flush=True)
time.sleep(120)
"""


@contextlib.contextmanager
def cache_locked_by_another_process(directory: str):
    """Another process holds the lock of the cache ``directory`` while the
    block runs (it is killed after).

    Args:
        directory (str): the cache directory.

    Yields:
        int: the holder's pid.
    """
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD_LOCK_SCRIPT, directory],
        stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout.readline() == 'locked\n'
        yield holder.pid
    finally:
        holder.kill()
        holder.communicate()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a test's rendezvous).

    Returns:
        int: the port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_train(cfg: dict, tmp_path, **env) -> subprocess.CompletedProcess:
    """Train ``cfg`` with ``tools/dist_train.sh`` (torchrun), 2 CPU
    processes on gloo, one OpenMP thread each.

    Args:
        cfg (dict): a complete config (dumped to ``tmp_path/cfg.py``).
        tmp_path: the folder the run starts in.
        **env: more environment variables.

    Returns:
        subprocess.CompletedProcess: the finished run, output captured.
    """
    cfg_path = str(tmp_path / 'cfg.py')
    Config(cfg).dump(cfg_path)
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1',
        **env)
    return subprocess.run(
        ['bash',
         osp.join(ROOT, 'tools', 'dist_train.sh'), cfg_path, '2'],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300)


def load_tool(path: str) -> ModuleType:
    """A script under tools/ as a module.

    Its folder is on ``sys.path`` while it loads, as when Python runs it,
    so that it can import the scripts beside it.

    Args:
        path (str): its path under tools/, without ``.py``
            (``'demo/make_moving_digits'``).

    Returns:
        ModuleType: the executed module.
    """
    file = osp.join(ROOT, 'tools', f'{path}.py')
    spec = importlib.util.spec_from_file_location(osp.basename(path), file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, osp.dirname(file))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(osp.dirname(file))
    return module
