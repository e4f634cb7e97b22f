# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""tools/extract_features.py then tools/cluster_features.py: the hook's
steps one at a time. Their labels equal the hook's own, and a training run
with the same config then finds them (a cache hit)."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT, free_port, load_tool, make_cfg, run_runner
from mmengine.config import Config

extract_tool = load_tool('extract_features')
cluster_tool = load_tool('cluster_features')


@pytest.fixture
def config(tmp_path, image_root, source_checkpoint):
    """A tiny ClusterFit config file (features kept in memory by the hook:
    the offline extraction writes the disk store anyway)."""
    cfg = make_cfg(str(tmp_path / 'unused'), image_root, source_checkpoint)
    path = str(tmp_path / 'clusterfit_tiny.py')
    Config(cfg).dump(path)
    return path


def manifest(work):
    with open(osp.join(work, 'clusterfit', 'manifest.json')) as f:
        return json.load(f)


def labels_of(work):
    return np.load(osp.join(work, 'clusterfit', 'labels.npy'))


@pytest.fixture
def reference(tmp_path, config):
    """The hook's own clustering, made by a training run."""
    work = str(tmp_path / 'hook')
    cfg = Config.fromfile(config)
    cfg.work_dir = work
    run_runner(cfg.to_dict())
    return work


@pytest.mark.slow
@pytest.mark.parametrize('num_shards', [1, 2])
def test_offline_steps_then_the_hook_is_a_cache_hit(tmp_path, config,
                                                    reference, num_shards,
                                                    rounds):
    work = str(tmp_path / 'offline')
    for shard in range(num_shards):
        extract_tool.main([
            config, '--work-dir', work, '--shard',
            str(shard), '--num-shards',
            str(num_shards)
        ])
    features = sorted(os.listdir(osp.join(work, 'clusterfit', 'features')))
    assert len(features) == 2 * num_shards  # a .npy and its progress file
    cluster_tool.main([config, '--work-dir', work])
    np.testing.assert_array_equal(labels_of(work), labels_of(reference))
    np.testing.assert_array_equal(
        np.load(osp.join(work, 'clusterfit', 'centroids.npy')),
        np.load(osp.join(reference, 'clusterfit', 'centroids.npy')))
    assert manifest(work)['fingerprint'] == manifest(reference)['fingerprint']
    assert not os.listdir(osp.join(work, 'clusterfit', 'features'))
    assert osp.isfile(
        osp.join(work, 'clusterfit', 'diagnostics', 'metrics_source.json'))

    # Training with the same config: no extraction, no k-means, the labels.
    cfg = Config.fromfile(config)
    cfg.work_dir = work
    runner = run_runner(cfg.to_dict())
    assert rounds == []  # counted from after the reference run
    np.testing.assert_array_equal(runner.train_dataloader.dataset.labels,
                                  labels_of(reference))


@pytest.mark.slow
def test_extraction_under_torchrun(tmp_path, config, reference):
    """2 gloo ranks under torchrun, each extracting its shard."""
    work = str(tmp_path / 'torchrun')
    proc = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port',
        str(free_port()),
        osp.join(ROOT, 'tools', 'extract_features.py'), config, '--work-dir',
        work, '--launcher', 'pytorch'
    ],
                          cwd=str(tmp_path),
                          env=dict(os.environ, OMP_NUM_THREADS='1'),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = os.listdir(osp.join(work, 'clusterfit', 'features'))
    assert sorted(n[16:] for n in names if n.endswith('.npy')) == [
        '-rank0-of-2.npy', '-rank1-of-2.npy'
    ]
    cluster_tool.main([config, '--work-dir', work])
    np.testing.assert_array_equal(labels_of(work), labels_of(reference))


@pytest.mark.slow
def test_cluster_tool_needs_every_shard(tmp_path, config):
    work = str(tmp_path / 'w')
    with pytest.raises(FileNotFoundError, match='tools/extract_features.py'):
        cluster_tool.main([config, '--work-dir', work])
    extract_tool.main(
        [config, '--work-dir', work, '--shard', '1', '--num-shards', '3'])
    with pytest.raises(
            FileNotFoundError,
            match=r'3 shards\) are incomplete: shards \[0, 2\]'):
        cluster_tool.main([config, '--work-dir', work])
    assert not osp.exists(osp.join(work, 'clusterfit', 'labels.npy'))
    # A complete set of another shard count is used; the stray incomplete
    # set of 3 no longer blocks it.
    extract_tool.main([config, '--work-dir', work])
    cluster_tool.main([config, '--work-dir', work])
    assert osp.isfile(osp.join(work, 'clusterfit', 'labels.npy'))


def test_shard_flags_are_checked(config):
    for argv, message in (([config, '--shard', '0'], 'together'),
                          ([config, '--shard', '2', '--num-shards',
                            '2'], 'must lie in'), ([
                                config, '--shard', '0', '--num-shards', '2',
                                '--launcher', 'pytorch'
                            ], 'without a launcher')):
        with pytest.raises(SystemExit):
            extract_tool.parse_args(argv)


def test_non_finite_features_never_become_labels(tmp_path, image_root,
                                                 source_checkpoint):
    """A source that gives NaN leaves an incomplete shard that the
    clustering step refuses; a complete shard whose rows were made NaN
    afterwards (a copy, another version) is refused naming the file. The old
    offline path wrote NaN labels and a manifest that vouched for them."""
    import copy

    import torch
    from helpers import SOURCE_MODEL
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(SOURCE_MODEL))
    state = model.state_dict()
    state['backbone.conv1.weight'][:] = float('nan')
    nan_source = str(tmp_path / 'nan.pth')
    torch.save(dict(state_dict=state), nan_source)
    for backend in ('torch', 'faiss-cpu'):
        cfg = make_cfg(
            str(tmp_path / 'unused'),
            image_root,
            nan_source,
            kmeans=dict(niter=10, seed=0, backend=backend))
        config = str(tmp_path / f'nan_{backend}.py')
        Config(cfg).dump(config)
        work = str(tmp_path / f'nan_{backend}')
        with pytest.raises(ValueError, match='NaN/inf features for 8 sample'):
            extract_tool.main([config, '--work-dir', work])
        with pytest.raises(
                FileNotFoundError, match='incomplete|no extracted features'):
            cluster_tool.main([config, '--work-dir', work])
        assert not osp.exists(osp.join(work, 'clusterfit', 'labels.npy'))

    # Progress recorded every 8 rows: the resume check covers the last
    # block, not row 3.
    good = make_cfg(
        str(tmp_path / 'unused'),
        image_root,
        source_checkpoint,
        features=dict(flush_every=8))
    config = str(tmp_path / 'good.py')
    Config(good).dump(config)
    work = str(tmp_path / 'tampered')
    extract_tool.main([config, '--work-dir', work])
    features = osp.join(work, 'clusterfit', 'features')
    (shard, ) = [f for f in os.listdir(features) if f.endswith('.npy')]
    rows = np.load(osp.join(features, shard), mmap_mode='r+')
    rows[3] = np.nan
    rows.flush()
    del rows
    with pytest.raises(
            ValueError,
            match=f'the stored features .*{shard} produced NaN/inf features '
            r'for 1 sample\(s\), e.g. dataset indices \[3\]\. Delete that'):
        cluster_tool.main([config, '--work-dir', work])
    assert not osp.exists(osp.join(work, 'clusterfit', 'labels.npy'))


def test_k_above_n_stops_the_offline_tools_before_any_work(
        tmp_path, image_root, source_checkpoint):
    cfg = make_cfg(
        str(tmp_path / 'unused'),
        image_root,
        source_checkpoint,
        num_clusters=50)
    config = str(tmp_path / 'k50.py')
    Config(cfg).dump(config)
    work = str(tmp_path / 'w')
    for tool in (extract_tool, cluster_tool):
        with pytest.raises(ValueError, match='50'):
            tool.main([config, '--work-dir', work])
    assert not osp.exists(osp.join(work, 'clusterfit', 'features'))
