# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The multi-seed study: aggregation, paired gains, the plot, and the
driver's resumable plan and doc section."""
import json
import os.path as osp
import subprocess
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest
from helpers import ROOT, load_tool

study_report = load_tool('analysis_tools/study_report')
mean_std = study_report.mean_std
plot_k_ablation = study_report.plot_k_ablation
results_tables = study_report.results_tables
summarize = study_report.summarize


def row(source, role, k, seed, linear, knn, epochs=8):
    return dict(
        source=source,
        role=role,
        K=k,
        seed=seed,
        epochs='-' if role == 'source' else epochs,
        top1=dict(linear=linear, knn20=knn))


ROWS = [
    row('noisy', 'source', '-', 0, 80.0, 70.0),
    row('noisy', 'source', '-', 1, 82.0, 72.0),
    row('noisy', 'clusterfit', 200, 0, 90.0, 69.0),
    row('noisy', 'clusterfit', 200, 1, 91.0, 75.0),
    row('noisy', 'clusterfit', 10, 0, 60.0, 50.0),
    row('noisy', 'clusterfit', 200, 0, 95.0, 80.0, epochs=17),
]


def test_mean_std_is_sample_std():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2.0)))
    assert mean_std([5.0]) == (5.0, 0.0)


def test_summarize_pairs_gains_by_seed():
    summary = summarize(ROWS)
    # Sources first, then ClusterFit by schedule and increasing K.
    assert list(summary) == [('noisy', 'source', '-', '-'),
                             ('noisy', 'clusterfit', 10, 8),
                             ('noisy', 'clusterfit', 200, 8),
                             ('noisy', 'clusterfit', 200, 17)]
    src = summary[('noisy', 'source', '-', '-')]['linear']
    assert (src['mean'], src['n'], src['gain']) == (81.0, 2, None)
    cf = summary[('noisy', 'clusterfit', 200, 8)]
    # Paired differences: linear +10, +9; kNN -1, +3.
    assert cf['linear']['gain'] == pytest.approx(9.5)
    assert cf['linear']['gain_std'] == pytest.approx(np.std([10, 9], ddof=1))
    assert cf['linear']['wins'] == 2
    assert cf['knn20']['gain'] == pytest.approx(1.0)
    assert cf['knn20']['wins'] == 1
    k10 = summary[('noisy', 'clusterfit', 10, 8)]['linear']
    assert (k10['gain'], k10['gain_n'], k10['wins']) == (-20.0, 1, 0)
    long = summary[('noisy', 'clusterfit', 200, 17)]['linear']
    assert (long['gain'], long['gain_n']) == (15.0, 1)


def test_results_tables_cells():
    text = results_tables(
        summarize(ROWS),
        protocols=('linear', 'knn20'),
        source_titles={'noisy': 'noisy labels'})
    assert ('| noisy labels | source | - | - | 2 | 81.0 ± 1.4 | '
            '71.0 ± 1.4 |') in text
    assert '| noisy labels | ClusterFit | 8 | 10 | 1 | 60.0 (1 seed) |' \
        in text
    assert ('| noisy labels | 8 | 200 | +9.5 ± 0.7 (2/2) | '
            '+1.0 ± 2.8 (1/2) |') in text
    assert '| noisy labels | 17 | 200 | +15.0 ± 0.0 (1/1) |' in text


def test_plot_is_a_png_with_one_panel_per_protocol(tmp_path):
    path = str(tmp_path / 'k.png')
    plot_k_ablation(summarize(ROWS), path, protocols=('linear', 'knn20'))
    image = mpimg.imread(path)
    # 4.2 inches per panel at 110 dpi, 4.4 inches high.
    assert image.shape[:2] == (484, 924)
    assert image[..., :3].std() > 0.05


@pytest.mark.slow
def test_driver_plan_resumes_and_rewrites_only_its_section(tmp_path):
    """The driver's plan is the documented one, finished steps are skipped,
    and --report-only rewrites the marked section of the doc only."""
    work = tmp_path / 'study'
    doc = tmp_path / 'results.md'
    base = [
        sys.executable, 'tools/analysis_tools/run_study.py', '--work-dir',
        str(work), '--seeds', '0', '1', '--ks', '200', '10', '--sources',
        'noisy-label', 'random-init', '--doc',
        str(doc), '--long-cf-epochs', '12', '--long-ks', '50',
        '--random-init-ks', '200', '--no-transfer'
    ]

    def left():
        out = subprocess.run(
            base + ['--dry-run'],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True).stdout
        return out.split()

    steps = left()
    # data, per seed: train + eval noisy, eval random init; K=200: 2 CF
    # runs per seed with evals; K=10: 1 per seed (no random-init K=10);
    # the long schedule at K=50: 2 per seed, last.
    assert len(steps) == 1 + 2 * 3 + 2 * 4 + 2 * 2 + 2 * 4
    assert steps[-1] == 'eval/seed1/clusterfit-random-init-K50-e12'
    assert steps[:4] == [
        'data', 'train/seed0/noisy-label', 'eval/seed0/noisy-label',
        'eval/seed0/random-init'
    ]
    assert 'train/seed1/clusterfit-random-init-K200' in steps
    assert 'train/seed0/clusterfit-random-init-K10' not in steps
    assert steps.index('train/seed1/clusterfit-noisy-label-K200') < \
        steps.index('train/seed0/clusterfit-noisy-label-K10')

    # Two evaluations finished (rows on disk and recorded in steps.json).
    for seed, name, role_k, top1 in [(0, 'random-init', '-', 40.0),
                                     (0, 'clusterfit-random-init-K200', 200,
                                      55.0)]:
        out = work / 'eval' / f'seed{seed}' / f'{name}.json'
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                dict(
                    method=name,
                    source='random-init',
                    K=role_k,
                    top1=dict(linear=top1, knn20=top1, **{'10shot': top1}))))
    (work / 'steps.json').write_text(
        json.dumps({
            'eval/seed0/random-init':
            dict(seconds=60.0, finished='x'),
            'eval/seed0/clusterfit-random-init-K200':
            dict(seconds=60.0, finished='x'),
            # Recorded, but its checkpoint is gone: it must run again.
            'train/seed0/noisy-label':
            dict(seconds=60.0, finished='x'),
        }))
    remaining = left()
    assert len(remaining) == len(steps) - 2
    assert 'train/seed0/noisy-label' in remaining

    doc.write_text('# Mine\n\nkept above\n<!-- study:begin -->\nold\n'
                   '<!-- study:end -->\nkept below\n')
    subprocess.run(
        base + ['--report-only'], cwd=ROOT, check=True, capture_output=True)
    text = doc.read_text()
    assert text.startswith('# Mine\n\nkept above\n<!-- study:begin -->')
    assert text.endswith('<!-- study:end -->\nkept below\n')
    assert '\nold\n' not in text
    assert 'Steps finished: 2 of 27; their run time adds up to 2 min' in text
    assert '| random init | 8 | 200 | +15.0 ± 0.0 (1/1) |' in text
    assert osp.isfile(tmp_path / 'results_k_ablation.png')


def test_transfer_evaluations_are_planned_and_reported(tmp_path):
    """Every network of the image study is also evaluated on the transfer
    data (scikit-learn's digits), reported in a section of its own."""
    work, doc = tmp_path / 'study', tmp_path / 'results.md'
    base = [
        sys.executable, 'tools/analysis_tools/run_study.py', '--work-dir',
        str(work), '--seeds', '0', '--ks', '200', '--sources', 'noisy-label',
        'random-init', '--doc',
        str(doc), '--long-cf-epochs', '--random-init-ks'
    ]
    steps = subprocess.run(
        base + ['--dry-run'],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True).stdout.split()
    evals = [
        kind + '/seed0/{network}'
        for kind in ('eval', 'eval_transfer/digits', 'eval_transfer/shapes')
    ]
    assert steps == [
        'data', 'data/digits', 'data/shapes', 'train/seed0/noisy-label'
    ] + [e.format(network='noisy-label')
         for e in evals] + [e.format(network='random-init') for e in evals] + [
             'train/seed0/clusterfit-noisy-label-K200'
         ] + [e.format(network='clusterfit-noisy-label-K200') for e in evals]
    record = {}
    for name, kind, top1 in [('eval', 'noisy-label', 80.0),
                             ('eval_transfer/digits', 'noisy-label', 61.0),
                             ('eval_transfer/digits',
                              'clusterfit-noisy-label-K200', 66.0)]:
        out = work / name / 'seed0' / f'{kind}.json'
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                dict(
                    method=kind,
                    source='noisy-label',
                    K=200 if 'K200' in kind else '-',
                    top1=dict(linear=top1, knn20=top1, **{'10shot': top1}))))
        record[f'{name}/seed0/{kind}'] = dict(seconds=6.0, finished='x')
    (work / 'steps.json').write_text(json.dumps(record))
    subprocess.run(
        base + ['--report-only'], cwd=ROOT, check=True, capture_output=True)
    text = doc.read_text()
    transfer = text[text.index('### transfer: digits'):]
    assert "(scikit-learn's 1,797 digits, another collection" in transfer
    gain = '| noisy labels (40% wrong) | 8 | 200 | +5.0 ± 0.0 (1/1) |'
    assert gain in transfer
    # The MNIST-5k rows are reported apart, above.
    assert '80.0' in text[:text.index('### transfer: digits')]
    assert '80.0' not in transfer


@pytest.mark.slow
def test_video_preset_reports_each_label_set(tmp_path):
    """The video study evaluates every network once on both label sets of
    the moving digits: a step is done when the last set's row exists, and
    the doc gets one section and one plot per label set, each paired with
    the source row of its own labels."""
    work = tmp_path / 'study'
    doc = tmp_path / 'results_video.md'
    base = [
        sys.executable, 'tools/analysis_tools/run_study.py', '--preset',
        'video', '--work-dir',
        str(work), '--seeds', '0', '--doc',
        str(doc)
    ]

    def left():
        return subprocess.run(
            base + ['--dry-run'],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True).stdout.split()

    steps = left()
    # data; train + eval of the noisy-label source, eval of random init;
    # K=100 then K=10, from both sources, each a training and an eval.
    assert len(steps) == 1 + 3 + 2 * 2 * 2
    assert steps[1:3] == ['train/seed0/noisy-label', 'eval/seed0/noisy-label']
    assert steps.index('train/seed0/clusterfit-noisy-label-K100') < \
        steps.index('train/seed0/clusterfit-noisy-label-K10')
    record = {}
    for name, k, digit, motion in [('noisy-label', '-', 70.0, 30.0),
                                   ('clusterfit-noisy-label-K100', 100, 80.0,
                                    28.0)]:
        for label_set, top1 in (('digit', digit), ('motion', motion)):
            out = work / 'eval' / 'seed0' / label_set / f'{name}.json'
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(
                json.dumps(
                    dict(
                        method=name,
                        source='noisy-label',
                        K=k,
                        top1=dict(linear=top1, knn20=top1, **{'10shot':
                                                              top1}))))
        record[f'eval/seed0/{name}'] = dict(seconds=30.0, finished='x')
    (work / 'steps.json').write_text(json.dumps(record))
    assert len(left()) == len(steps) - 2
    # Only the first set's row: the step is not done.
    (work / 'eval' / 'seed0' / 'motion' / 'noisy-label.json').unlink()
    assert 'eval/seed0/noisy-label' in left()
    (work / 'eval' / 'seed0' / 'motion' / 'noisy-label.json').write_text(
        json.dumps(
            dict(
                method='noisy-label',
                source='noisy-label',
                K='-',
                top1=dict(linear=30.0, knn20=30.0, **{'10shot': 30.0}))))
    subprocess.run(
        base + ['--report-only'], cwd=ROOT, check=True, capture_output=True)
    text = doc.read_text()
    digit, motion = text.split('### digit')[1].split('### motion')
    assert '| noisy digit labels (40% wrong) | 12 | 100 | +10.0 ± 0.0 ' \
        '(1/1) |' in digit
    assert '| noisy digit labels (40% wrong) | 12 | 100 | -2.0 ± 0.0 ' \
        '(0/1) |' in motion
    assert 'moving digits, 2,000 train / 1,000 test clips' in text
    for label_set in ('digit', 'motion'):
        assert osp.isfile(tmp_path /
                          f'results_video_{label_set}_k_ablation.png')


def test_every_demo_table_is_the_generated_one():
    """README.md, configs/clusterfit/README.md and docs/demo.md show the
    table of docs/results/demo_mnist5k.json, as demo_table.py writes it."""
    demo_table = load_tool('analysis_tools/demo_table')
    assert demo_table.main(['--check']) == 0
    # The metafile's result of the demo model is the same figure.
    import yaml
    rows = json.load(open(osp.join(ROOT, demo_table.RESULTS)))['rows']
    linear = next(r for r in rows
                  if r['method'] == 'clusterfit-K200')['top1']['linear']
    meta = yaml.safe_load(
        open(osp.join(ROOT, 'configs', 'clusterfit', 'metafile.yml')))
    model = next(m for m in meta['Models']
                 if m['Name'] == 'clusterfit_resnet18-mini_mnist5k')
    assert model['Results'][0]['Metrics']['Top 1 Accuracy'] == round(linear, 1)


def test_demo_table_render():
    demo_table = load_tool('analysis_tools/demo_table')

    def row(method, linear, shot, knn):
        return dict(
            method=method,
            top1=dict(linear=linear, knn20=knn, **{'10shot': shot}))

    table = demo_table.render(
        dict(
            note='2 cores, today',
            rows=[
                row('clusterfit-K200', 95.3, 88.4, 92.8),
                row('random-init', 44.4, 26.13, 38.0),
                row('noisy-label-source', 90.0, 82.83, 89.7)
            ]))
    assert table.splitlines() == [
        'Top-1 % of frozen backbone features (2 cores, today):', '',
        '| model | linear | 10-shot | 20-NN |', '| --- | ---: | ---: | ---: |',
        '| random init | 44.4 | 26.1 | 38.0 |',
        '| noisy-label source | 90.0 | 82.8 | 89.7 |',
        '| ClusterFit K=200 from it | **95.3** | **88.4** | **92.8** |'
    ]
    with pytest.raises(ValueError, match="no rows for \\['random-init', "):
        demo_table.render(
            dict(note='x', rows=[row('clusterfit-K200', 1, 1, 1)]))
