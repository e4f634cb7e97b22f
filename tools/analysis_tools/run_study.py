# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The ClusterFit claim in miniature: sources x K x seeds on MNIST-5k.

For every seed, trains each source network with ``tools/train.py`` (a
weakly-supervised one on 40%-wrong labels, RotNet, and mmpretrain's stock
SimCLR; random initialisation is a fourth, untrained source), then
ClusterFit from each source for every K, and evaluates every network's
frozen backbone with ``tools/eval_features.py``. Finally it writes the
mean ± std tables and the K-ablation plot into ``docs/results.md``.

Every step is recorded in ``{work_dir}/steps.json`` when it finishes, so an
interrupted study resumes where it stopped (``--dry-run`` lists what is
left). The K=200 runs of all seeds go first, so a partial study already
answers the main question; a longer ClusterFit schedule at K=200 and
K=10 comes last (``--long-cf-epochs``, ``--long-ks``), to show what the
short one costs and whether the best K moves with it.

Example:
    python tools/analysis_tools/run_study.py   # the full study, then the doc
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

from study_report import plot_k_ablation, results_tables, summarize

from clusterfit_plugin.fileio import atomic_save_json, atomic_save_text

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = 'configs/demo/_base_/mnist5k.py'
CF_CONFIG = 'configs/demo/clusterfit_resnet18-mini_mnist5k.py'
# name -> (config, title); random-init has no training run of its own.
SOURCES = {
    'noisy-label': ('configs/demo/noisy-label_resnet18-mini_mnist5k.py',
                    'noisy labels (40% wrong)'),
    'rotnet': ('configs/demo/rotnet_resnet18-mini_mnist5k.py', 'RotNet'),
    'simclr': ('configs/demo/simclr_resnet18-mini_mnist5k.py', 'SimCLR'),
    'random-init':
    ('configs/demo/noisy-label_resnet18-mini_mnist5k.py', 'random init'),
}
BEGIN, END = '<!-- study:begin -->', '<!-- study:end -->'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/study')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--ks',
        type=int,
        nargs='+',
        default=[200, 10, 500, 50],
        help='K values, run in this order')
    parser.add_argument(
        '--sources', nargs='+', choices=list(SOURCES), default=list(SOURCES))
    parser.add_argument(
        '--random-init-ks',
        type=int,
        nargs='*',
        default=[200, 10],
        help='K values of ClusterFit from random init')
    parser.add_argument(
        '--cf-epochs',
        type=int,
        default=8,
        help='ClusterFit schedule of the K grid')
    parser.add_argument(
        '--long-cf-epochs',
        type=int,
        nargs='*',
        default=[17],
        help='longer ClusterFit schedules, run at --long-ks')
    parser.add_argument('--long-ks', type=int, nargs='*', default=[200, 10])
    parser.add_argument(
        '--doc',
        default='docs/results.md',
        help='Markdown file whose study section is '
        'rewritten (text outside its markers is kept)')
    parser.add_argument(
        '--dry-run', action='store_true', help='list the steps left and stop')
    parser.add_argument(
        '--report-only',
        action='store_true',
        help='only rewrite the doc from finished steps')
    return parser.parse_args()


def source_epochs(config: str) -> int:
    """The ``train_cfg.max_epochs`` of a config file.

    Args:
        config (str): config path, relative to the repository root.

    Returns:
        int: the number of training epochs.
    """
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, config)).train_cfg.max_epochs


def plan(args) -> list:
    """All steps of the study, in run order.

    Returns:
        list[dict]: steps with ``name``, ``cmd`` (argv) and ``output`` (the
        file the step must leave behind).
    """
    py, wd = sys.executable, args.work_dir
    steps = [
        dict(
            name='data',
            cmd=[py, 'tools/demo/prepare_mnist.py', '--out', 'data/mnist5k'],
            output='data/mnist5k/train_noisy40.txt')
    ]
    ckpts = {}
    # Parsing a config imports its mmpretrain bases: once per source.
    epochs_of = {
        source: source_epochs(SOURCES[source][0])
        for source in args.sources if source != 'random-init'
    }

    def evaluate(seed, name, config, ckpt, source, role, epochs='-'):
        out_dir = osp.join(wd, 'eval', f'seed{seed}')
        steps.append(
            dict(
                name=f'eval/seed{seed}/{name}',
                cmd=[
                    py, 'tools/eval_features.py', config, ckpt or 'none',
                    '--data', DATA, '--name', name, '--source-name', source,
                    '--init-seed',
                    str(seed), '--out-dir', out_dir
                ],
                output=osp.join(out_dir, f'{name}.json'),
                row=dict(seed=seed, role=role, source=source, epochs=epochs)))

    for seed in args.seeds:
        for source in args.sources:
            config = SOURCES[source][0]
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
                    py, 'tools/train.py', CF_CONFIG, '--work-dir', run_dir,
                    '--cfg-options', f'num_clusters={k}',
                    f'model.head.num_clusters={k}',
                    f'custom_hooks.0.num_clusters={k}',
                    f'custom_hooks.0.source.config={SOURCES[source][0]}',
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
        evaluate(seed, name, osp.join(run_dir, osp.basename(CF_CONFIG)),
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
    """The rows of the finished evaluations, with seed and role."""
    rows = []
    for step in steps:
        path = osp.join(ROOT, step['output'])
        if 'row' not in step or not osp.isfile(path):
            continue
        with open(path, encoding='utf-8') as f:
            row = json.load(f)
        row.update(step['row'])
        rows.append(row)
    return rows


def write_doc(args, steps: list, record: dict) -> None:
    """Rewrite the study section of ``args.doc`` and its plot."""
    rows = study_rows(steps)
    summary = summarize(rows)
    titles = {k: v[1] for k, v in SOURCES.items()}
    plot = osp.splitext(args.doc)[0] + '_k_ablation.png'
    plot_k_ablation(summary, osp.join(ROOT, plot), source_titles=titles)
    done = [s for s in steps if is_done(s, record)]
    seconds = sum(record[s['name']]['seconds'] for s in done)
    command = 'python tools/analysis_tools/run_study.py' + ''.join(
        f' {a}' for a in sys.argv[1:] if a != '--report-only')
    section = '\n'.join([
        BEGIN,
        '<!-- written by tools/analysis_tools/run_study.py; edits here are '
        'overwritten -->',
        f'Command: `{command}` (seeds {args.seeds}, K {sorted(args.ks)} '
        f'with {args.cf_epochs} ClusterFit epochs, K {args.long_ks} also '
        f'with {args.long_cf_epochs}). Steps finished: '
        f'{len(done)} of {len(steps)}; their run time adds up to '
        f'{seconds / 60:.0f} min on this machine '
        f'({os.cpu_count()} CPU cores).', '',
        'Top-1 % of frozen backbone features (MNIST-5k, 4,000 train / 1,000 '
        'test), mean ± std over seeds:', '',
        results_tables(summary, source_titles=titles), '',
        'Second table: ClusterFit minus its own source of the same seed, '
        'mean ± std, (seeds where ClusterFit was higher / seeds).', '',
        f'![K ablation]({osp.basename(plot)})', END
    ])
    path = osp.join(ROOT, args.doc)
    text = ''
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            text = f.read()
    if BEGIN in text and END in text:
        text = (
            text[:text.index(BEGIN)] + section +
            text[text.index(END) + len(END):])
    else:
        text = (text or '# Results: the ClusterFit claim in miniature\n\n'
                ) + section + '\n'
    atomic_save_text(path, text)
    print(f'wrote {args.doc} and {plot} from {len(rows)} evaluations')


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
