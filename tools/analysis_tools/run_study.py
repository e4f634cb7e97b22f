# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The ClusterFit claim in miniature: sources x K x seeds, on images
(MNIST-5k) or on video (moving digits).

For every seed, trains each source network with ``tools/train.py`` (random
initialisation is one more, untrained, source), then ClusterFit from each
source for every K, and evaluates every network's frozen backbone with
``tools/eval_features.py`` (on every label set of the data: the digit and
the motion of the video clips). Finally it writes the mean ± std tables and
the K-ablation plot into the study's document.

``--preset image`` (the default; ``make study``) is the study of
docs/results.md: a weakly-supervised source on 40%-wrong labels, RotNet and
mmpretrain's stock SimCLR, K in {10, 50, 200, 500}. ``--preset video``
(``make study-video``) is docs/results_video.md: a small R(2+1)D-18 trained
on 40%-wrong digit labels of moving-digit clips, K in {10, 100}, evaluated
on the digit and on the motion. Every other option overrides the preset.

Every step is recorded in ``{work_dir}/steps.json`` when it finishes, so an
interrupted study resumes where it stopped (``--dry-run`` lists what is
left). The first K of all seeds goes first, so a partial study already
answers the main question; the longer ClusterFit schedules come last
(``--long-cf-epochs``, ``--long-ks``).

Example:
    python tools/analysis_tools/run_study.py   # the image study, then the doc
    python tools/analysis_tools/run_study.py --preset video
    python tools/analysis_tools/run_study.py --seeds 0 --ks 200 \
        --cf-epochs 2 --work-dir work_dirs/study_smoke --doc /tmp/results.md
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

from study_report import (plot_k_ablation, results_tables, summarize,
                          write_section)

from clusterfit_plugin.fileio import atomic_save_json

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Each study: its data (the command that writes it, a file it leaves, the
# --data config of the evaluation), the ClusterFit config, the sources
# (sources_cfg: name -> (config, title); random-init has no training run of
# its own), and the defaults of the options.
PRESETS = dict(
    image=dict(
        data_cmd=['tools/demo/prepare_mnist.py', '--out', 'data/mnist5k'],
        data_output='data/mnist5k/train_noisy40.txt',
        data='configs/demo/_base_/mnist5k.py',
        data_title='MNIST-5k, 4,000 train / 1,000 test',
        cf_config='configs/demo/clusterfit_resnet18-mini_mnist5k.py',
        sources_cfg={
            'noisy-label':
            ('configs/demo/noisy-label_resnet18-mini_mnist5k.py',
             'noisy labels (40% wrong)'),
            'rotnet':
            ('configs/demo/rotnet_resnet18-mini_mnist5k.py', 'RotNet'),
            'simclr':
            ('configs/demo/simclr_resnet18-mini_mnist5k.py', 'SimCLR'),
            'random-init':
            ('configs/demo/noisy-label_resnet18-mini_mnist5k.py',
             'random init'),
        },
        # Every network also on data it was not trained on (transfer).
        transfer=[
            dict(
                name='digits',
                data_cmd=[
                    'tools/demo/prepare_digits.py', '--out', 'data/digits'
                ],
                data_output='data/digits/test.txt',
                data='configs/demo/_base_/digits.py',
                title="scikit-learn's 1,797 digits, another collection of "
                'digits, 900 train / 897 test'),
            dict(
                name='shapes',
                data_cmd=['tools/demo/make_shapes.py', '--out', 'data/shapes'],
                data_output='data/shapes/test.txt',
                data='configs/demo/_base_/shapes.py',
                title='generated shapes, ten classes of another kind than '
                'digits, 1,000 train / 1,000 test')
        ],
        work_dir='work_dirs/study',
        doc='docs/results.md',
        ks=[200, 10, 500, 50],
        random_init_ks=[200, 10],
        cf_epochs=8,
        long_cf_epochs=[17],
        long_ks=[200, 10]),
    video=dict(
        data_cmd=['tools/demo/make_moving_digits.py'],
        data_output='data/moving_digits/train_noisy40.txt',
        data='configs/demo/_base_/moving_digits.py',
        data_title='moving digits, 2,000 train / 1,000 test clips',
        cf_config='configs/demo/clusterfit_r2plus1d-18-mini_moving-digits.py',
        sources_cfg={
            'noisy-label':
            ('configs/demo/noisy-label_r2plus1d-18-mini_moving-digits.py',
             'noisy digit labels (40% wrong)'),
            'random-init':
            ('configs/demo/noisy-label_r2plus1d-18-mini_moving-digits.py',
             'random init'),
        },
        transfer=[],
        work_dir='work_dirs/study_video',
        doc='docs/results_video.md',
        ks=[100, 10],
        random_init_ks=[100, 10],
        cf_epochs=12,
        long_cf_epochs=[],
        long_ks=[]),
)
BEGIN, END = '<!-- study:begin -->', '<!-- study:end -->'
# The ``labels`` of the rows measured on a transfer dataset start so.
TRANSFER = 'transfer: '


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--preset',
        choices=list(PRESETS),
        default='image',
        help='the study whose defaults the other options override')
    parser.add_argument('--work-dir')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--ks', type=int, nargs='+', help='K values, run in this order')
    parser.add_argument('--sources', nargs='+')
    parser.add_argument(
        '--random-init-ks',
        type=int,
        nargs='*',
        help='K values of ClusterFit from random init')
    parser.add_argument(
        '--cf-epochs', type=int, help='ClusterFit schedule of the K grid')
    parser.add_argument(
        '--long-cf-epochs',
        type=int,
        nargs='*',
        help='longer ClusterFit schedules, run at --long-ks')
    parser.add_argument('--long-ks', type=int, nargs='*')
    parser.add_argument(
        '--doc',
        help='Markdown file whose study section is '
        'rewritten (text outside its markers is kept)')
    parser.add_argument(
        '--no-transfer',
        action='store_true',
        help="skip the evaluations on the preset's transfer datasets")
    parser.add_argument(
        '--dry-run', action='store_true', help='list the steps left and stop')
    parser.add_argument(
        '--report-only',
        action='store_true',
        help='only rewrite the doc from finished steps')
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    for key, value in preset.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.no_transfer:
        args.transfer = []
    args.sources = args.sources or list(args.sources_cfg)
    unknown = set(args.sources) - set(args.sources_cfg)
    if unknown:
        parser.error(f'--sources {sorted(unknown)} are not sources of the '
                     f'{args.preset} study; use {list(args.sources_cfg)}.')
    return args


def source_epochs(config: str) -> int:
    """The ``train_cfg.max_epochs`` of a config file.

    Args:
        config (str): config path, relative to the repository root.

    Returns:
        int: the number of training epochs.
    """
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, config)).train_cfg.max_epochs


def label_sets_of(data: str) -> list:
    """The ``eval_label_sets`` of an evaluation data config.

    Args:
        data (str): the ``--data`` config of ``tools/eval_features.py``.

    Returns:
        list[str]: the label set names (empty: the splits' own labels).
    """
    from mmengine.config import Config
    return list(
        Config.fromfile(osp.join(ROOT, data)).get('eval_label_sets') or [])


def plan(args) -> list:
    """All steps of the study, in run order.

    Returns:
        list[dict]: steps with ``name``, ``cmd`` (argv) and ``output`` (the
        file the step must leave behind).
    """
    py, wd, sources = sys.executable, args.work_dir, args.sources_cfg
    steps = [
        dict(name='data', cmd=[py] + args.data_cmd, output=args.data_output)
    ]
    for target in args.transfer:
        steps.append(
            dict(
                name=f'data/{target["name"]}',
                cmd=[py] + target['data_cmd'],
                output=target['data_output']))
    ckpts = {}
    # Parsing a config imports its mmpretrain bases: once per source.
    epochs_of = {
        source: source_epochs(sources[source][0])
        for source in args.sources if source != 'random-init'
    }
    label_sets = list(label_sets_of(args.data) or [None])

    def evaluate(seed, name, config, ckpt, source, role, epochs='-'):
        row = dict(seed=seed, role=role, source=source, epochs=epochs)

        def command(data, out_dir):
            return [
                py, 'tools/eval_features.py', config, ckpt or 'none', '--data',
                data, '--name', name, '--source-name', source, '--init-seed',
                str(seed), '--out-dir', out_dir
            ]

        out_dir = osp.join(wd, 'eval', f'seed{seed}')
        rows = {
            label_set: osp.join(out_dir, label_set or '', f'{name}.json')
            for label_set in label_sets
        }
        steps.append(
            dict(
                name=f'eval/seed{seed}/{name}',
                cmd=command(args.data, out_dir),
                # One process writes every label set's row, the last last.
                output=rows[label_sets[-1]],
                rows=rows,
                row=row))
        for target in args.transfer:
            out_dir = osp.join(wd, 'eval_transfer', target['name'],
                               f'seed{seed}')
            path = osp.join(out_dir, f'{name}.json')
            steps.append(
                dict(
                    name=f'eval_transfer/{target["name"]}/seed{seed}/{name}',
                    cmd=command(target['data'], out_dir),
                    output=path,
                    rows={TRANSFER + target['name']: path},
                    row=row))

    for seed in args.seeds:
        for source in args.sources:
            config = sources[source][0]
            ckpt = None
            if source != 'random-init':
                run_dir = osp.join(wd, f'seed{seed}', source)
                ckpt = osp.join(run_dir, f'epoch_{epochs_of[source]}.pth')
                steps.append(
                    dict(
                        name=f'train/seed{seed}/{source}',
                        cmd=[
                            py, 'tools/train.py', config, '--work-dir',
                            run_dir, '--cfg-options', f'randomness.seed={seed}'
                        ],
                        output=ckpt))
            ckpts[(seed, source)] = ckpt
            evaluate(seed, source, config, ckpt, source, 'source')
    runs = [(k, seed, source, args.cf_epochs, '') for k in args.ks
            for seed in args.seeds for source in args.sources
            if source != 'random-init' or k in args.random_init_ks]
    runs += [(k, seed, source, epochs, f'-e{epochs}')
             for epochs in args.long_cf_epochs for k in args.long_ks
             for seed in args.seeds for source in args.sources]
    for k, seed, source, epochs, suffix in runs:
        name = f'clusterfit-{source}-K{k}{suffix}'
        run_dir = osp.join(wd, f'seed{seed}', name)
        ckpt = ckpts[(seed, source)]
        cf_ckpt = osp.join(run_dir, f'epoch_{epochs}.pth')
        steps.append(
            dict(
                name=f'train/seed{seed}/{name}',
                cmd=[
                    py, 'tools/train.py', args.cf_config, '--work-dir',
                    run_dir, '--cfg-options', f'num_clusters={k}',
                    f'model.head.num_clusters={k}',
                    f'custom_hooks.0.num_clusters={k}',
                    f'custom_hooks.0.source.config={sources[source][0]}',
                    f'custom_hooks.0.source.checkpoint={ckpt}',
                    f'custom_hooks.0.source.init_seed={seed}',
                    f'custom_hooks.0.kmeans.seed={seed}',
                    f'randomness.seed={seed}',
                    f'train_cfg.max_epochs={epochs}',
                    f'param_scheduler.T_max={epochs}',
                    f'default_hooks.checkpoint.interval={epochs}'
                ],
                output=cf_ckpt))
        # The config dumped by the run carries K for the row.
        evaluate(seed, name, osp.join(run_dir, osp.basename(args.cf_config)),
                 cf_ckpt, source, 'clusterfit', epochs)
    return steps


def load_record(path: str) -> dict:
    """The finished steps recorded in ``steps.json`` (empty if none)."""
    if not osp.isfile(path):
        return {}
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def is_done(step: dict, record: dict) -> bool:
    """Whether a step is recorded and its output still exists."""
    return step['name'] in record and osp.isfile(
        osp.join(ROOT, step['output']))


def run_steps(steps: list, record_path: str) -> None:
    """Run the steps not done yet, recording each one's seconds."""
    record = load_record(record_path)
    todo = [s for s in steps if not is_done(s, record)]
    print(
        f'{len(steps) - len(todo)} of {len(steps)} steps done, '
        f'{len(todo)} to run',
        flush=True)
    env = dict(os.environ, PYTHONWARNINGS='ignore', PYTHONUNBUFFERED='1')
    for i, step in enumerate(todo, 1):
        log_path = osp.join(
            osp.dirname(record_path), 'logs',
            step['name'].replace('/', '_') + '.log')
        os.makedirs(osp.dirname(log_path), exist_ok=True)
        print(f'[{i}/{len(todo)}] {step["name"]} ...', end=' ', flush=True)
        start = time.time()
        with open(log_path, 'w', encoding='utf-8') as log:
            proc = subprocess.run(
                step['cmd'],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT)
        seconds = time.time() - start
        if proc.returncode != 0 or not osp.isfile(
                osp.join(ROOT, step['output'])):
            print('FAILED')
            raise SystemExit(
                f'step {step["name"]} failed (exit {proc.returncode}); its '
                f'log is {log_path}. Fix the cause and run this command '
                'again: finished steps are kept.')
        print(f'{seconds:.0f}s', flush=True)
        record[step['name']] = dict(
            seconds=round(seconds, 1),
            finished=time.strftime('%Y-%m-%d %H:%M'))
        atomic_save_json(record_path, record)


def study_rows(steps: list) -> list:
    """The rows of the finished evaluations, with seed, role and (where the
    data has label sets) ``labels``."""
    rows = []
    for step in steps:
        for label_set, path in step.get('rows', {}).items():
            path = osp.join(ROOT, path)
            if not osp.isfile(path):
                continue
            with open(path, encoding='utf-8') as f:
                row = json.load(f)
            row.update(step['row'], labels=label_set)
            rows.append(row)
    return rows


def write_doc(args, steps: list, record: dict) -> None:
    """Rewrite the study section of ``args.doc`` and its plots (one per
    label set)."""
    rows = study_rows(steps)
    titles = {k: v[1] for k, v in args.sources_cfg.items()}
    done = [s for s in steps if is_done(s, record)]
    seconds = sum(record[s['name']]['seconds'] for s in done)
    command = 'python tools/analysis_tools/run_study.py' + ''.join(
        f' {a}' for a in sys.argv[1:] if a != '--report-only')
    long = (f', K {args.long_ks} also with {args.long_cf_epochs}'
            if args.long_cf_epochs and args.long_ks else '')
    lines = [
        BEGIN,
        '<!-- written by tools/analysis_tools/run_study.py; edits here are '
        'overwritten -->',
        f'Command: `{command}` (seeds {args.seeds}, K {sorted(args.ks)} '
        f'with {args.cf_epochs} ClusterFit epochs{long}). Steps finished: '
        f'{len(done)} of {len(steps)}; their run time adds up to '
        f'{seconds / 60:.0f} min on this machine '
        f'({os.cpu_count()} CPU cores).'
    ]
    label_sets = sorted(
        {row['labels']
         for row in rows},
        key=lambda s:
        (str(s).startswith(TRANSFER), s is not None, s)) or [None]
    titles_of = {TRANSFER + t['name']: t['title'] for t in args.transfer}
    for label_set in label_sets:
        summary = summarize([r for r in rows if r['labels'] == label_set])
        suffix = '' if label_set is None else '_' + label_set.replace(
            TRANSFER, 'transfer_')
        plot = osp.splitext(args.doc)[0] + f'{suffix}_k_ablation.png'
        plot_k_ablation(summary, osp.join(ROOT, plot), source_titles=titles)
        heading = (''
                   if label_set is None else f' on the **{label_set}** labels')
        data_title = args.data_title
        if label_set in titles_of:
            heading, data_title = '', titles_of[label_set]
        if label_set is not None:
            lines += ['', f'### {label_set}']
        lines += [
            '', f'Top-1 % of frozen backbone features{heading} '
            f'({data_title}), mean ± std over seeds:', '',
            results_tables(summary, source_titles=titles), '',
            'Second table: ClusterFit minus its own source of the same seed, '
            'mean ± std, (seeds where ClusterFit was higher / seeds).', '',
            f'![K ablation{heading}]({osp.basename(plot)})'
        ]
    write_section(
        osp.join(ROOT, args.doc), '\n'.join(lines + [END]), BEGIN, END,
        '# Results: the ClusterFit claim in miniature')
    print(f'wrote {args.doc} and its plots from {len(rows)} evaluations')


def main():
    args = parse_args()
    steps = plan(args)
    record_path = osp.join(ROOT, args.work_dir, 'steps.json')
    if args.dry_run:
        record = load_record(record_path)
        for step in steps:
            if not is_done(step, record):
                print(step['name'])
        return
    if not args.report_only:
        run_steps(steps, record_path)
    write_doc(args, steps, load_record(record_path))


if __name__ == '__main__':
    main()
