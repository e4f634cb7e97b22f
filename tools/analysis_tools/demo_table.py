# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The demo's results table, written from one file into every document that
shows it, so that no two disagree.

``docs/results/demo_mnist5k.json`` holds the leaderboard rows of one
``make demo`` (written by ``tools/eval_features.py``, with the date and the
machine). This tool renders them as one Markdown table and puts it between
the markers ``<!-- demo-table -->`` and ``<!-- /demo-table -->`` of
README.md, configs/clusterfit/README.md and docs/demo.md.

Example:
    # after `make demo`: take its rows, then rewrite the tables
    python tools/analysis_tools/demo_table.py \
        --rows work_dirs/demo/eval/*.json --note "2 cores, 2026-12-07"
    # check that every document shows the current table (a test does)
    python tools/analysis_tools/demo_table.py --check
"""
import argparse
import json
import os.path as osp
import sys
from typing import List

from clusterfit_plugin.fileio import atomic_save_json, atomic_save_text

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join('docs', 'results', 'demo_mnist5k.json')
DOCUMENTS = ('README.md', osp.join('configs', 'clusterfit',
                                   'README.md'), osp.join('docs', 'demo.md'))
BEGIN, END = '<!-- demo-table -->', '<!-- /demo-table -->'
# Rows in this order, under these names.
MODELS = (('random-init', 'random init'), ('noisy-label-source',
                                           'noisy-label source'),
          ('clusterfit-K200', 'ClusterFit K=200 from it'))
COLUMNS = (('linear', 'linear'), ('10shot', '10-shot'), ('knn20', '20-NN'))


def render(results: dict) -> str:
    """The table of the demo's rows, the best of each column in bold.

    Args:
        results (dict): ``note`` and ``rows`` (leaderboard rows).

    Returns:
        str: the Markdown table, with its caption line.
    """
    rows = {row['method']: row for row in results['rows']}
    missing = [name for name, _ in MODELS if name not in rows]
    if missing:
        raise ValueError(f'{RESULTS} has no rows for {missing}.')
    best = {
        key: max(rows[name]['top1'][key] for name, _ in MODELS)
        for key, _ in COLUMNS
    }
    lines = [
        f'Top-1 % of frozen backbone features ({results["note"]}):', '',
        '| model | ' + ' | '.join(title for _, title in COLUMNS) + ' |',
        '| --- | ' + ' | '.join('---:' for _ in COLUMNS) + ' |'
    ]
    for name, title in MODELS:
        cells = []
        for key, _ in COLUMNS:
            value = rows[name]['top1'][key]
            cells.append(f'**{value:.1f}**' if value == best[key]
                         and name.startswith('clusterfit') else f'{value:.1f}')
        lines.append(f'| {title} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def splice(text: str, table: str, path: str) -> str:
    """``text`` with the table between its markers."""
    if BEGIN not in text or END not in text:
        raise ValueError(f'{path} has no {BEGIN} ... {END} markers.')
    return (text[:text.index(BEGIN) + len(BEGIN)] + '\n' + table + '\n' +
            text[text.index(END):])


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--rows', nargs='+', help="a demo run's JSON rows to keep")
    parser.add_argument('--note', help='the machine and date of those rows')
    parser.add_argument(
        '--check',
        action='store_true',
        help='exit 1 if a document does not show the current table')
    args = parser.parse_args(argv)
    results_path = osp.join(ROOT, RESULTS)
    if args.rows:
        if not args.note:
            parser.error('--rows needs --note (the machine and the date)')
        rows = [json.load(open(p, encoding='utf-8')) for p in args.rows]
        atomic_save_json(results_path, dict(note=args.note, rows=rows))
    with open(results_path, encoding='utf-8') as f:
        table = render(json.load(f))
    stale = []
    for name in DOCUMENTS:
        path = osp.join(ROOT, name)
        with open(path, encoding='utf-8') as f:
            text = f.read()
        new = splice(text, table, name)
        if new != text:
            stale.append(name)
            if not args.check:
                atomic_save_text(path, new)
    if args.check and stale:
        print(f'not the table of {RESULTS}: {stale}; run '
              'tools/analysis_tools/demo_table.py')
        return 1
    print(f'{RESULTS}: ' + ('every document shows it'
                            if not stale else f'rewrote the table of {stale}'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
