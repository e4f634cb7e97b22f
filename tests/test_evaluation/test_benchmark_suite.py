# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The transfer suite: every benchmark config builds its datasets on tiny
data in the dataset's official layout, VOC07's SVM protocol against
scikit-learn's own grid search, and the suite command end to end (rows,
missing data listed, a second run reusing the first)."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
from benchmark_layouts import WRITERS
from helpers import ROOT, free_port, load_tool, make_cfg
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS
from sklearn.model_selection import GridSearchCV

from clusterfit_plugin.datasets.sample_keys import scan_samples
from clusterfit_plugin.evaluation import MULTI_LABEL_PROTOCOLS
from clusterfit_plugin.evaluation.suite import (SUITES, load_benchmark,
                                                missing_files)
from clusterfit_plugin.evaluation.voc07_svm import (VOC07_COSTS, class_svm,
                                                    low_shot_targets,
                                                    multi_label_targets,
                                                    normalise, voc07_low_shot,
                                                    voc07_svm, voc_ap)

CONFIGS = osp.join(ROOT, 'configs', 'benchmarks', 'transfer')
BENCHMARKS = sorted(
    osp.splitext(osp.basename(p))[0]
    for p in glob.glob(osp.join(CONFIGS, '*.py')))


def test_every_config_is_in_a_suite_and_has_a_layout():
    in_suites = {b for suite in SUITES.values() for b in suite}
    assert in_suites == set(BENCHMARKS) == set(WRITERS)


def tiny_configs(tmp_path) -> str:
    """The shipped benchmark configs, with low-shot k values the tiny VOC
    layout holds (4 positives and 36 negatives a class)."""
    configs = str(tmp_path / 'configs')
    shutil.copytree(CONFIGS, configs)
    with open(osp.join(configs, 'voc07_low-shot_svm.py'), 'a') as f:
        f.write('eval_low_shot = dict(k_values=[1], samples=2)\n')
    return configs


def write_layout(bench: str, data: str) -> Config:
    cfg = load_benchmark(osp.join(CONFIGS, f'{bench}.py'), data)
    WRITERS[bench](cfg.eval_train_dataset.data_root)
    return cfg


@pytest.mark.parametrize('bench', BENCHMARKS)
def test_config_builds_on_its_official_layout(bench, tmp_path):
    """Each split builds through its registry class, every sample has a
    label, and the first sample goes through the config's pipeline."""
    cfg = load_benchmark(osp.join(CONFIGS, f'{bench}.py'), str(tmp_path))
    assert missing_files(cfg)  # nothing written yet: all listed
    WRITERS[bench](cfg.eval_train_dataset.data_root)
    assert missing_files(cfg) == []
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for split in ('eval_train_dataset', 'eval_test_dataset'):
            dataset = DATASETS.build(cfg[split])
            assert len(dataset) > 0
            if cfg.benchmark.protocols[0] in MULTI_LABEL_PROTOCOLS:
                targets = multi_label_targets(dataset)
                assert (targets == 1).any(1).all()
            else:
                _, labels = scan_samples(dataset)
                assert (labels >= 0).all()
                assert len(np.unique(labels)) > 1
            item = dataset[0]
            assert item['inputs'].ndim >= 3


def test_data_root_moves_only_the_data_prefix(tmp_path):
    cfg = load_benchmark(osp.join(CONFIGS, 'voc07_svm.py'), '/datasets')
    assert cfg.eval_test_dataset.data_root == '/datasets/VOCdevkit/VOC2007'
    same = load_benchmark(osp.join(CONFIGS, 'voc07_svm.py'))
    assert same.eval_test_dataset.data_root == 'data/VOCdevkit/VOC2007'
    bad = tmp_path / 'bad.py'
    bad.write_text("benchmark = dict(name='x', protocols=['linear'], "
                   'expect=[])\neval_train_dataset = dict()\n'
                   'eval_test_dataset = dict()\n')
    with pytest.raises(ValueError, match="unknown key 'expect'.*expects"):
        load_benchmark(str(bad))


def vissl_ap(targets: np.ndarray, scores: np.ndarray) -> float:
    """VISSL's get_precision_recall + calculate_ap, written as a loop."""
    order = np.argsort(scores)[::-1]
    tp = fp = 0
    precision, recall = [], []
    total = (targets > 0).sum()
    for i in order:
        if targets[i] > 0:
            tp += 1
        else:
            fp += 1
        precision.append(tp / (tp + fp))
        recall.append(tp / total)
    mrec = [0.0] + recall + [1.0]
    mpre = [0.0] + precision + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec))
               if mrec[i] != mrec[i - 1])


def test_voc_ap_is_vissls():
    rng = np.random.default_rng(0)
    for _ in range(20):
        targets = np.where(rng.random(60) < 0.3, 1, -1)
        scores = rng.normal(size=60) + targets
        assert voc_ap(targets == 1, scores) == pytest.approx(
            vissl_ap(targets, scores), abs=1e-12)


def test_voc07_svm_equals_scikit_learns_grid_search():
    """Per class: the cost GridSearchCV picks with VISSL's SVM on 3 folds
    by AP, refitted on all trainval; AP on test without the difficult."""
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(4, 16))
    train_t = (rng.random((60, 4)) < 0.35).astype(np.int8)
    train_t[rng.random((60, 4)) < 0.05] = -1
    for c in range(4):  # at least 3 positives a class for the 3 folds
        train_t[3 * c:3 * c + 3, c] = 1
    test_t = (rng.random((40, 4)) < 0.35).astype(np.int8)
    test_t[rng.random((40, 4)) < 0.1] = -1
    train_x = (train_t == 1) @ centers + rng.normal(size=(60, 16))
    test_x = (test_t != 0) @ centers + rng.normal(size=(40, 16))
    costs = (0.01, 0.1, 1.0, 10.0)
    mean_ap, aps, chosen = voc07_svm(train_x, train_t, test_x, test_t, costs)
    for c in range(4):
        search = GridSearchCV(
            class_svm(1.0, 2000), {
                'C': list(costs)
            },
            cv=3,
            scoring='average_precision').fit(
                normalise(train_x), np.where(train_t[:, c] == 1, 1, -1))
        assert chosen[c] == search.best_params_['C']
        kept = test_t[:, c] != -1
        scores = search.decision_function(normalise(test_x)[kept])
        assert aps[c] == pytest.approx(
            100 * vissl_ap(test_t[kept, c], scores), abs=1e-9)
    assert mean_ap == pytest.approx(aps.mean())
    assert list(VOC07_COSTS) == [
        0.01, 0.1, 1.0, 2, 5, 10, 15, 20, 50, 100, 1000
    ]


def test_voc07_svm_refuses_a_class_it_cannot_cross_validate():
    x = np.random.default_rng(0).normal(size=(20, 4))
    targets = np.zeros((20, 2), np.int8)
    targets[:10, 0] = 1
    targets[0, 1] = 1
    with pytest.raises(ValueError, match='class 1 has 1 positive'):
        voc07_svm(x, targets, x, targets, (1.0, ))


def test_low_shot_draws_and_scores_as_vissl():
    """A draw keeps k positives and (C - 1) k negatives of each class;
    each k's result is the cost with the best mean over the draws of the
    test mAP of SVMs fitted on the drawn images (a bare loop here)."""
    rng = np.random.default_rng(4)
    centers = rng.normal(size=(3, 8))
    train_t = (rng.random((80, 3)) < 0.4).astype(np.int8)
    train_t[rng.random((80, 3)) < 0.05] = -1
    test_t = (rng.random((50, 3)) < 0.4).astype(np.int8)
    train_x = (train_t == 1) @ centers + rng.normal(size=(80, 8))
    test_x = (test_t == 1) @ centers + rng.normal(size=(50, 8))
    drawn = low_shot_targets(train_t, 4, seed=1)
    for c in range(3):
        kept = drawn[:, c] != -1
        assert (drawn[:, c] == 1).sum() == 4 and (drawn[:, c] == 0).sum() == 8
        assert (train_t[kept, c] == drawn[kept, c]).all()
    costs = (0.1, 10.0)
    got = voc07_low_shot(train_x, train_t, test_x, test_t, [4], 2, costs)[4]
    maps = np.zeros((2, 2))
    for s in range(2):
        draw = low_shot_targets(train_t, 4, seed=s + 1)
        for j, cost in enumerate(costs):
            aps = []
            for c in range(3):
                rows = draw[:, c] != -1
                svm = class_svm(cost, 2000).fit(
                    normalise(train_x)[rows],
                    np.where(draw[rows, c] == 1, 1, -1))
                aps.append(
                    vissl_ap(test_t[:, c],
                             svm.decision_function(normalise(test_x))))
            maps[s, j] = 100 * np.mean(aps)
    best = maps.mean(0).argmax()
    assert got['cost'] == costs[best]
    assert got['mean'] == pytest.approx(maps[:, best].mean())
    assert got['std'] == pytest.approx(maps[:, best].std())
    with pytest.raises(ValueError, match='class 0 has .* fewer than the'):
        low_shot_targets(train_t, 40, seed=1)


@pytest.mark.slow
def test_suite_runs_resumes_and_lists_what_is_missing(tmp_path, image_root,
                                                      source_checkpoint,
                                                      monkeypatch, capsys):
    data = str(tmp_path / 'data')
    for bench in ('voc07_svm', 'in1k_linear'):
        write_layout(bench, data)
    model_cfg = tmp_path / 'model.py'
    Config(dict(model=make_cfg('w', image_root, None)['model'])).dump(
        str(model_cfg))
    tool = load_tool('analysis_tools/benchmark_suite')
    argv = [
        str(model_cfg), source_checkpoint, '--suite', 'paper-image',
        '--data-root', data, '--name', 'tiny', '--batch-size', '8',
        '--num-workers', '0', '--work-dir',
        str(tmp_path / 'suite'), '--quoted',
        osp.join(ROOT, 'docs', 'results',
                 'quoted_vissl_model_zoo.json'), '--configs',
        tiny_configs(tmp_path)
    ]
    tool.main(argv)
    out = capsys.readouterr().out
    table = (tmp_path / 'suite' / 'paper-image' / 'leaderboard.md').read_text()
    voc = json.load(
        open(tmp_path / 'suite' / 'paper-image' / 'voc07_svm.json'))['row']
    assert voc['dataset'] == 'VOC07' and 0 < voc['mAP']['voc07-svm'] <= 100
    assert 'top1' not in voc or not voc['top1']
    low = json.load(
        open(tmp_path / 'suite' / 'paper-image' /
             'voc07_low-shot_svm.json'))['row']
    assert set(low['mAP']) == {'voc07-low-shot k=1'}
    assert 'k=1: ' in low['settings']['voc07-low-shot']
    in1k = json.load(
        open(tmp_path / 'suite' / 'paper-image' / 'in1k_linear.json'))['row']
    assert set(in1k['top1']) == {'linear'}
    assert 'chosen from [0.01, 0.1, 1.0, 10.0]' in in1k['settings']['linear']
    assert 'voc07-svm mAP' in table and 'linear top-1' in table
    assert 'quoted [1]' in table
    for bench in ('places205_linear', 'inat2018_linear'):
        assert f'- {bench}: {data}/' in table
    assert '3 run now, 0 recorded before, 2 missing' in out
    # A second run reuses both rows and evaluates nothing.
    monkeypatch.setattr('clusterfit_plugin.evaluation.suite.evaluate_model',
                        lambda *a, **k: pytest.fail('evaluated again'))
    tool.main(argv)
    assert '0 run now, 3 recorded before, 2 missing' in \
        capsys.readouterr().out
    assert (tmp_path / 'suite' / 'paper-image' /
            'leaderboard.md').read_text() == table
    # Another evaluation of the same checkpoint (here another classifier)
    # is not taken for this one: it runs again.
    monkeypatch.undo()
    tool.main(argv + ['--classifier', 'torch'])
    assert '3 run now, 0 recorded before, 2 missing' in \
        capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize('suite', sorted(SUITES))
def test_every_benchmark_runs(suite, tmp_path, image_root, source_checkpoint,
                              capsys):
    """Each suite on tiny data in every benchmark's layout: every config
    is extracted and scored, one row each (clips by a small R(2+1)D, images
    by the tests' small ResNet)."""
    data = str(tmp_path / 'data')
    for bench in SUITES[suite]:
        write_layout(bench, data)
    if suite == 'paper-video':
        model_cfg = osp.join(ROOT, 'configs', 'demo',
                             'clusterfit_r2plus1d-18-mini_moving-digits.py')
        checkpoint = 'none'
    else:
        model_cfg = str(tmp_path / 'model.py')
        Config(dict(
            model=make_cfg('w', image_root, None)['model'])).dump(model_cfg)
        checkpoint = source_checkpoint
    load_tool('analysis_tools/benchmark_suite').main([
        model_cfg, checkpoint, '--suite', suite, '--data-root', data,
        '--batch-size', '8', '--num-workers', '0', '--work-dir',
        str(tmp_path / 'suite'), '--configs',
        tiny_configs(tmp_path)
    ])
    assert f'{len(SUITES[suite])} run now, 0 recorded before, 0 missing' in \
        capsys.readouterr().out
    for bench in SUITES[suite]:
        row = json.load(open(tmp_path / 'suite' / suite /
                             f'{bench}.json'))['row']
        scores = row.get('mAP') or row['top1']
        assert all(0 <= v <= 100 for v in scores.values()), row


def test_vissl_layers_pool_as_vissl():
    """res4 and res5 of a ResNet-50 at 224 pixels, through the plugin's
    extractor, against the stage maps pooled by hand with VISSL's ops."""
    import torch
    import torch.nn.functional as F
    from mmpretrain.registry import MODELS

    from clusterfit_plugin.engine.extractor import forward_features
    from clusterfit_plugin.evaluation.vissl_layers import use_vissl_layer
    torch.manual_seed(0)
    cfg = dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)),
        neck=dict(type='GlobalAveragePooling'))
    model = MODELS.build(cfg).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        maps = model.backbone(x)
        want = dict(
            res4=F.avg_pool2d(maps[2], 8, 3).flatten(1),
            res5=F.avg_pool2d(maps[3], 6, 1).flatten(1))
        for layer, dim in (('res4', 9216), ('res5', 8192)):
            wrapped = use_vissl_layer(MODELS.build(cfg).eval(), layer)
            wrapped.backbone.backbone.load_state_dict(
                model.backbone.state_dict())
            got = forward_features(wrapped, x, 'backbone')
            assert got.shape == (2, dim)
            torch.testing.assert_close(got, want[layer])
    with pytest.raises(ValueError, match='smaller than VISSL'):
        use_vissl_layer(MODELS.build(cfg).eval(),
                        'res4').backbone(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='has no out_indices'):
        use_vissl_layer(
            MODELS.build(
                dict(
                    type='ImageClassifier',
                    backbone=dict(type='LeNet5', num_classes=0))), 'res5')


@pytest.mark.slow
def test_two_ranks_extract_into_the_disk_store_and_score_the_same(
        tmp_path, image_root, source_checkpoint):
    """Under torchrun (2 gloo processes) each rank extracts its shard of
    every split into --feature-dir and rank 0 scores: the stored features
    are the in-memory ones, and every benchmark gets its row."""
    data = str(tmp_path / 'data')
    for bench in ('voc07_svm', 'in1k_linear'):
        write_layout(bench, data)
    model_cfg = str(tmp_path / 'model.py')
    Config(
        dict(model=make_cfg('w', image_root, None)['model'])).dump(model_cfg)
    configs = tiny_configs(tmp_path)
    tool = osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark_suite.py')
    common = [
        model_cfg, source_checkpoint, '--suite', 'paper-image', '--data-root',
        data, '--batch-size', '8', '--num-workers', '0', '--configs', configs
    ]
    load_tool('analysis_tools/benchmark_suite').main(
        common + ['--work-dir', str(tmp_path / 'one')])
    done = subprocess.run(
        [
            sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
            '2', '--master_port',
            str(free_port()), tool
        ] + common + [
            '--work-dir',
            str(tmp_path / 'two'), '--feature-dir',
            str(tmp_path / 'features'), '--launcher', 'pytorch'
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert '3 run now, 0 recorded before, 2 missing' in done.stdout
    # Each of the 4 splits (VOC07 trainval and test, ImageNet train and
    # val) in its own store, one shard per rank.
    shards = glob.glob(str(tmp_path / 'features' / '*' / 'features' / '*.npy'))
    assert sorted(
        p.rsplit('-', 3)[-3:] != [] and p[-len('rank0-of-2.npy'):]
        for p in shards
    ) == ['rank0-of-2.npy'] * 4 + ['rank1-of-2.npy'] * 4 or len(shards) == 8
    # The stored features are the in-memory ones (each rank's batches
    # differ, so up to float rounding).
    from clusterfit_plugin.engine.source import build_source_model
    from clusterfit_plugin.evaluation.extraction import frozen_features
    from clusterfit_plugin.evaluation.model_eval import EvalSettings
    cfg = load_benchmark(osp.join(configs, 'in1k_linear.py'), data)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(cfg.eval_train_dataset)
    model = build_source_model(
        dict(config=model_cfg, checkpoint=source_checkpoint))
    settings = EvalSettings(batch_size=8, num_workers=0)
    in_memory = frozen_features(model, dataset, cfg.eval_train_dataset,
                                settings)
    stored = np.zeros_like(in_memory)
    for rank in (0, 1):
        shard = glob.glob(
            str(tmp_path / 'features' / '*' / 'features' /
                f'*-rank{rank}-of-2.npy'))
        rows = [np.load(p) for p in shard]
        match = [
            r for r in rows if r.shape == in_memory[rank::2].shape
            and np.allclose(r, in_memory[rank::2], atol=1e-4)
        ]
        assert len(match) == 1, 'no stored shard of ImageNet train'
        stored[rank::2] = match[0]
    np.testing.assert_allclose(stored, in_memory, rtol=1e-4, atol=1e-5)
    for bench in ('voc07_svm', 'voc07_low-shot_svm', 'in1k_linear'):
        one = json.load(
            open(tmp_path / 'one' / 'paper-image' / f'{bench}.json'))['row']
        two = json.load(
            open(tmp_path / 'two' / 'paper-image' / f'{bench}.json'))['row']
        # The same benchmark scored the same way. The scores themselves are
        # not compared: each rank's batches differ, so the features differ
        # in their last bits (checked above), and the SVMs on these random
        # features (liblinear, stopped at 2,000 iterations) move by more
        # than a point of mAP with them.
        assert one['dataset'] == two['dataset']
        assert one['settings'].keys() == two['settings'].keys()
        for key in ('top1', 'mAP'):
            assert set(one.get(key, {})) == set(two.get(key, {}))
            assert all(0 <= v <= 100 for v in two.get(key, {}).values())


def test_protocols_and_ranks_that_cannot_be_honoured_are_refused(monkeypatch):
    from clusterfit_plugin.evaluation import extraction
    from clusterfit_plugin.evaluation.model_eval import (EvalSettings,
                                                         check_protocols)
    with pytest.raises(ValueError, match="mix the multi-label.*'voc07-svm'"):
        check_protocols(['voc07-svm', 'linear'], 'data.py')
    check_protocols(['voc07-low-shot'], 'data.py')
    # Two ranks can only meet in the disk store.
    monkeypatch.setattr(extraction, 'get_dist_info', lambda: (1, 2))
    with pytest.raises(ValueError, match='2 ranks .* give --feature-dir'):
        extraction.frozen_features(None, [], {}, EvalSettings())


def test_eval_features_through_the_disk_store_gives_the_same_row(
        tmp_path, image_root, source_checkpoint, monkeypatch):
    """tools/eval_features.py --feature-dir (one process): the splits go
    through resumable disk stores, the row is the in-memory run's; a
    second run reads the complete stores instead of extracting again."""
    from clusterfit_plugin.engine import extractor
    data_cfg = str(tmp_path / 'data.py')
    split = dict(
        type='CustomDataset',
        data_root=image_root,
        ann_file='ann.txt',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')])
    Config(dict(eval_train_dataset=split,
                eval_test_dataset=split)).dump(data_cfg)
    model_cfg = str(tmp_path / 'model.py')
    Config(
        dict(model=make_cfg('w', image_root, None)['model'])).dump(model_cfg)
    tool = load_tool('eval_features')
    rows = {}
    for name, more in (('memory', []),
                       ('disk', ['--feature-dir',
                                 str(tmp_path / 'features')]),
                       ('again', ['--feature-dir',
                                  str(tmp_path / 'features')])):
        monkeypatch.setattr(sys, 'argv', [
            'eval_features.py', model_cfg, source_checkpoint, '--data',
            data_cfg, '--name', name, '--protocols', 'linear', 'knn',
            '--batch-size', '8', '--num-workers', '0', '--out-dir',
            str(tmp_path / 'rows')
        ] + more)
        if name == 'again':  # the stores are complete: nothing is run
            monkeypatch.setattr(extractor, 'forward_features',
                                lambda *a: pytest.fail('extracted again'))
        tool.main()
        rows[name] = json.load(open(tmp_path / 'rows' / f'{name}.json'))
    assert rows['disk']['top1'] == rows['memory']['top1']
    assert rows['again']['top1'] == rows['memory']['top1']
