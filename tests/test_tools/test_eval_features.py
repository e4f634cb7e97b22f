# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""tools/eval_features.py and tools/leaderboard.py on a real checkpoint."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from helpers import NUM_IMAGES, PIPELINE, ROOT, make_cfg
from mmengine.config import Config
from mmpretrain.registry import DATASETS

from clusterfit_plugin.engine.extractor import (build_source_model,
                                                extract_features)
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
    assert row['K'] == 3 and row['backbone'] == 'ResNet_CIFAR'
    assert set(row['top1']) == {'linear', '5shot', 'knn5'}
    # The same numbers as the protocols on directly extracted features; the
    # random row is the network initialised with --init-seed.
    ds = DATASETS.build(split)
    truth = np.arange(NUM_IMAGES) % 3
    random_row = json.load(open(out / 'random.json'))
    assert random_row['checkpoint'] == 'random-init-3'
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
