# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""tools/eval_features.py and tools/leaderboard.py on a real checkpoint."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from helpers import NUM_IMAGES, PIPELINE, ROOT, load_tool, make_cfg
from mmengine.config import Config
from mmpretrain.registry import DATASETS

from clusterfit_plugin.engine.extractor import extract_features
from clusterfit_plugin.engine.source import build_source_model
from clusterfit_plugin.evaluation import evaluate_features, markdown_table


@pytest.mark.slow
def test_eval_tool_and_leaderboard(tmp_path, image_root, source_checkpoint):
    data_cfg = tmp_path / 'data.py'
    split = dict(
        type='CustomDataset',
        data_root=image_root,
        ann_file='ann.txt',
        pipeline=PIPELINE)
    Config(dict(eval_train_dataset=split,
                eval_test_dataset=split)).dump(str(data_cfg))
    model_cfg = tmp_path / 'model.py'
    Config(dict(model=make_cfg('w', image_root, None)['model'])).dump(
        str(model_cfg))
    out = tmp_path / 'rows'
    # The second call evaluates two models in one process (--also) and
    # writes their table (--table).
    both = [
        '--also',
        str(model_cfg), source_checkpoint, 'again', 'src', '--table',
        str(tmp_path / 'table.md')
    ]
    for ckpt, name, more in ((source_checkpoint, 'trained', []),
                             ('none', 'random', both)):
        proc = subprocess.run(
            [
                sys.executable,
                osp.join(ROOT, 'tools', 'eval_features.py'),
                str(model_cfg), ckpt, '--data',
                str(data_cfg), '--name', name, '--shots', '5', '--k', '5',
                '--batch-size', '8', '--num-workers', '0', '--init-seed', '3',
                '--out-dir',
                str(out)
            ] + more,
            capture_output=True,
            text=True,
            timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.load(open(out / 'trained.json'))
    assert set(row) >= {
        'method', 'source', 'backbone', 'K', 'dataset', 'protocol', 'top1',
        'checkpoint', 'command'
    }
    # The backbone with its depth; K for the trained ClusterFit model only.
    assert row['K'] == 3 and row['backbone'] == 'ResNet_CIFAR-18'
    assert row['result'] == 'measured'
    assert set(row['settings']) == {'linear', 'fewshot', 'knn'}
    assert '5 samples per class' in row['settings']['fewshot']
    assert set(row['top1']) == {'linear', '5shot', 'knn5'}
    # The same numbers as the protocols on directly extracted features; the
    # random row is the network initialised with --init-seed.
    ds = DATASETS.build(split)
    truth = np.arange(NUM_IMAGES) % 3
    random_row = json.load(open(out / 'random.json'))
    assert random_row['checkpoint'] == 'random-init-3'
    assert random_row['K'] == '-'  # a random init has learnt no clusters
    for checkpoint, init_seed, evaluated in ((source_checkpoint, 0, row),
                                             (None, 3, random_row)):
        model = build_source_model(
            dict(
                config=str(model_cfg),
                checkpoint=checkpoint,
                init_seed=init_seed,
                stage='backbone'))
        feats = extract_features(
            model,
            ds,
            PIPELINE,
            np.arange(len(ds)),
            'backbone',
            num_workers=0,
            progress=False)
        direct = evaluate_features(feats, truth, feats, truth, shots=5, k=5)
        assert evaluated['top1'] == {k: round(v, 2) for k, v in direct.items()}
    assert (out / 'trained.md').read_text().startswith('| method |')
    # The model evaluated second in a process scores as when it ran alone.
    again = json.load(open(out / 'again.json'))
    assert again['top1'] == row['top1'] and again['source'] == 'src'
    assert (
        tmp_path /
        'table.md').read_text() == markdown_table([random_row, again]) + '\n'
    merged = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'leaderboard.py'),
        str(out / 'trained.json'),
        str(out / 'random.json')
    ],
                            capture_output=True,
                            text=True,
                            timeout=120).stdout
    assert merged == markdown_table([row, random_row]) + '\n'
    assert merged.count('\n') == 4 and '| random |' in merged
    assert merged.splitlines()[0].endswith('| checkpoint | result |')


@pytest.mark.slow
def test_label_sets_share_one_extraction(tmp_path, image_root,
                                         source_checkpoint):
    """With ``eval_label_sets`` each set of labels of the same samples gets
    its own row, scored as the protocols score the directly extracted
    features with those labels; a set that lists other samples, or the same
    in another order, is refused naming the file."""
    lines = open(osp.join(image_root, 'ann.txt')).read().split('\n')[:-1]
    paths = [line.split()[0] for line in lines]
    parity = tmp_path / 'parity.txt'
    parity.write_text(''.join(f'{p} {i % 2}\n' for i, p in enumerate(paths)))
    shuffled = tmp_path / 'shuffled.txt'
    shuffled.write_text(''.join(f'{p} 0\n' for p in paths[::-1]))
    split = dict(
        type='CustomDataset',
        data_root=image_root,
        ann_file='ann.txt',
        pipeline=PIPELINE)
    model_cfg = tmp_path / 'model.py'
    Config(dict(model=make_cfg('w', image_root, None)['model'])).dump(
        str(model_cfg))

    def run(label_sets, out):
        data_cfg = tmp_path / 'data.py'
        Config(
            dict(
                eval_train_dataset=split,
                eval_test_dataset=split,
                eval_label_sets=label_sets)).dump(str(data_cfg))
        return subprocess.run([
            sys.executable,
            osp.join(ROOT, 'tools', 'eval_features.py'),
            str(model_cfg), source_checkpoint, '--data',
            str(data_cfg), '--name', 'm', '--shots', '5', '--k', '5',
            '--batch-size', '8', '--num-workers', '0', '--out-dir',
            str(out)
        ],
                              capture_output=True,
                              text=True,
                              timeout=300)

    out = tmp_path / 'rows'
    proc = run(
        dict(kind=('ann.txt', 'ann.txt'), parity=(str(parity), str(parity))),
        out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    model = build_source_model(
        dict(
            config=str(model_cfg),
            checkpoint=source_checkpoint,
            stage='backbone'))
    feats = extract_features(
        model,
        DATASETS.build(split),
        PIPELINE,
        np.arange(NUM_IMAGES),
        'backbone',
        num_workers=0,
        progress=False)
    for name, truth in (('kind', np.arange(NUM_IMAGES) % 3),
                        ('parity', np.arange(NUM_IMAGES) % 2)):
        row = json.load(open(out / name / 'm.json'))
        assert row['dataset'] == f'data/{name}'
        direct = evaluate_features(feats, truth, feats, truth, shots=5, k=5)
        assert row['top1'] == {k: round(v, 2) for k, v in direct.items()}
        assert f'm/{name}: linear' in proc.stdout
    assert not (out / 'm.json').exists()

    proc = run(dict(other=(str(shuffled), 'ann.txt')), tmp_path / 'bad')
    assert proc.returncode != 0
    assert 'must list the samples' in proc.stderr
    assert 'shuffled.txt' in proc.stderr and 'differ first at sample 0' \
        in proc.stderr


def test_unknown_protocol_is_refused_before_extraction(tmp_path, monkeypatch,
                                                       capsys):
    """A misspelled protocol stops at the flags, before the model or any
    data is read (the old tool found it after extracting every feature)."""
    tool = load_tool('eval_features')
    monkeypatch.setattr(sys, 'argv', [
        'eval_features.py', 'no/model.py', 'none', '--data', 'no/data.py',
        '--name', 'x', '--protocols', 'linear', 'knnn'
    ])
    with pytest.raises(SystemExit):
        tool.parse_args()
    assert "invalid choice: 'knnn'" in capsys.readouterr().err


def test_unlabelled_samples_of_a_plain_split_are_refused():
    """-1 (no single class) in eval_train_dataset's own labels: the old tool
    fitted the probes on it and reported numbers."""
    from clusterfit_plugin.evaluation.model_eval import label_sets
    keys = ['a', 'b', 'c']
    with pytest.raises(
            ValueError,
            match=r'data\.py: eval_train_dataset gives '
            r'sample 1 no single class'):
        label_sets(
            Config(dict()), 'data.py', keys, keys, np.array([0, -1, 2]),
            np.array([0, 1, 2]))
    sets = label_sets(
        Config(dict()), 'data.py', keys, keys, np.array([0, 1, 2]),
        np.array([2, 1, 0]))
    assert list(sets) == [None]
