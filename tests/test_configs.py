"""Every shipped config parses and builds offline: the model, the custom
hooks, and each ClusterFitHook's source model."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import HOOKS, MODELS

from clusterfit_plugin.engine.extractor import load_source_config
from conftest import ROOT

CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)


def test_configs_found():
    names = {osp.relpath(p, ROOT) for p in CONFIGS}
    assert {'configs/clusterfit_r50.py',
            'configs/benchmarks/linear-probe_clusterfit-r50_in1k.py'} <= names


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(path)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        assert sum(p.numel() for p in model.parameters()) > 0
        for hook_cfg in cfg.get('custom_hooks', []):
            hook = HOOKS.build(hook_cfg)
            if type(hook).__name__ == 'ClusterFitHook':
                assert model.head.num_clusters == hook.num_clusters
                source = MODELS.build(load_source_config(hook.source))
                assert hasattr(source, 'backbone')


def test_r50_recipe_is_the_papers():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'clusterfit_r50.py'))
    hook = cfg.custom_hooks[0]
    assert cfg.num_clusters == hook.num_clusters == 16000
    assert cfg.model.head.num_clusters == 16000
    assert hook.source.config.startswith('mmpretrain::mocov2/')
    assert cfg.train_cfg.max_epochs == 105
    assert cfg.param_scheduler.milestones == [30, 60, 90, 100]
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.train_dataloader.dataset.type == 'ClusterFitDataset'
