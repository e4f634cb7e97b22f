# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Leaderboard rows that say what they are: backbone names with depth, K
only for trained ClusterFit models, quoted rows with their citation, and
metafile entries of measured rows only."""
import json
import os.path as osp

import pytest
import yaml
from helpers import ROOT, load_tool

from clusterfit_plugin.evaluation.leaderboard import (backbone_name,
                                                      check_quoted,
                                                      cluster_count, make_row,
                                                      markdown_table,
                                                      metafile_models)

QUOTED = osp.join(ROOT, 'docs', 'results', 'quoted_vissl_model_zoo.json')
CLUSTERFIT = dict(
    backbone=dict(type='ResNet', depth=50),
    head=dict(type='ClusterFitHead', num_clusters=16000, in_channels=2048))


def measured(method='cf', K_model=CLUSTERFIT, checkpoint='w.pth'):
    return make_row(
        method=method,
        source='rotnet',
        model_cfg=K_model,
        dataset='digits',
        protocol='frozen backbone, 900 train / 897 test',
        settings=dict(linear='logistic regression'),
        top1=dict(linear=71.234, knn20=60.0),
        checkpoint=checkpoint,
        checkpoint_id='abcd1234',
        command='python tools/eval_features.py ...')


def test_names_and_k_by_hand():
    assert backbone_name(dict(type='ResNet', depth=50)) == 'ResNet-50'
    assert backbone_name(dict(type='ResNet_CIFAR',
                              depth=18)) == 'ResNet_CIFAR-18'
    assert backbone_name(dict(type='VisionTransformer',
                              arch='base')) == 'VisionTransformer-base'
    assert backbone_name(dict(type='LeNet5')) == 'LeNet5'
    assert cluster_count(CLUSTERFIT, 'w.pth') == 16000
    assert cluster_count(CLUSTERFIT, None) == '-'  # a random init
    linear = dict(CLUSTERFIT, head=dict(type='LinearClsHead', num_classes=5))
    assert cluster_count(linear, 'w.pth') == '-'


def test_quoted_rows_beside_measured_ones():
    quoted = check_quoted(json.load(open(QUOTED)), QUOTED)
    assert [(r['method'], r['top1']['linear'])
            for r in quoted] == [('rotnet-rn50-105e', 48.2),
                                 ('clusterfit-rn50-105e', 53.63)]
    table = markdown_table([measured()] + quoted).splitlines()
    assert table[0] == ('| method | source | backbone | K | dataset | '
                        'knn20 top-1 | linear top-1 | checkpoint | result |')
    assert table[2] == ('| cf | rotnet | ResNet-50 | 16000 | digits | 60.00 '
                        '| 71.23 | abcd1234 | measured |')
    assert table[3].endswith('| - | 48.20 | rotnet_rn50_in1k_ep105 (VISSL) '
                             '| quoted [1] |')
    assert table[5] == ''
    assert table[6].startswith('[1] VISSL model zoo, MODEL_ZOO.md')


@pytest.mark.parametrize('change, message', [
    (dict(citation=''), 'needs result=.quoted. and citation'),
    (dict(result='measured'), 'needs result=.quoted.'),
    (dict(top1s={}), "unknown key 'top1s'; did you mean 'top1'"),
])
def test_a_quoted_row_without_its_citation_is_refused(change, message):
    row = dict(json.load(open(QUOTED))[0], **change)
    with pytest.raises(ValueError, match=message):
        check_quoted([row], 'q.json')


def test_metafile_entries_of_measured_rows(tmp_path):
    rows = [measured(), measured(method='random', checkpoint=None)]
    models = metafile_models(rows, 'ClusterFit')
    assert models[0] == {
        'Name':
        'cf',
        'Metadata': {
            'Architecture': ['ResNet-50'],
            'Source': 'rotnet',
            'Clusters': 16000,
            'Checkpoint': 'abcd1234'
        },
        'In Collection':
        'ClusterFit',
        'Results': [{
            'Task': 'Frozen-feature classification',
            'Dataset': 'digits',
            'Metrics': {
                'knn20 Top 1 Accuracy': 60.0,
                'linear Top 1 Accuracy': 71.23
            },
            'Protocol': 'frozen backbone, 900 train / 897 test'
        }]
    }
    assert models[1]['Metadata']['Clusters'] == '-'
    with pytest.raises(ValueError, match='metafile lists measured results'):
        metafile_models(json.load(open(QUOTED)), 'ClusterFit')
    # The tool: quoted rows in the table, measured ones in the metafile.
    row_file = tmp_path / 'cf.json'
    row_file.write_text(json.dumps(rows[0]))
    tool = load_tool('leaderboard')
    tool.main([
        str(row_file), '--quoted', QUOTED, '--metafile',
        str(tmp_path / 'metafile.yml')
    ])
    written = yaml.safe_load((tmp_path / 'metafile.yml').read_text())
    assert written == {'Models': models[:1]}
    with pytest.raises(ValueError, match='pass quoted rows with --quoted'):
        tool.main([_quoted_row_file(tmp_path)])


def _quoted_row_file(tmp_path) -> str:
    path = tmp_path / 'quoted_row.json'
    path.write_text(json.dumps(json.load(open(QUOTED))[0]))
    return str(path)


def test_top5_columns_and_metrics():
    row = make_row(
        method='cf',
        source='rotnet',
        model_cfg=CLUSTERFIT,
        dataset='in1k',
        protocol='frozen backbone',
        settings={},
        top1=dict(linear=50.0),
        checkpoint='w.pth',
        checkpoint_id='abcd1234',
        command='c',
        top5=dict(linear=75.123))
    assert row['top5'] == {'linear': 75.12}
    plain = measured()  # no top-5 (five classes or fewer)
    assert 'top5' not in plain
    table = markdown_table([row, plain]).splitlines()
    assert table[0].endswith('| knn20 top-1 | linear top-5 | checkpoint '
                             '| result |')
    assert '| 50.00 | - | 75.12 | abcd1234 |' in table[2]
    assert '| 71.23 | 60.00 | - | abcd1234 |' in table[3]
    metrics = metafile_models([row], 'ClusterFit')[0]['Results'][0]['Metrics']
    assert metrics == {
        'linear Top 1 Accuracy': 50.0,
        'linear Top 5 Accuracy': 75.12
    }
