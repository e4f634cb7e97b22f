# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Merge the JSON rows of tools/eval_features.py into a Markdown table.

Quoted rows (published numbers, each with its citation) can stand beside
the measured ones (``--quoted``, a JSON list of rows with
``result='quoted'`` and ``citation``; docs/results/quoted_vissl_model_zoo.json
is one); ``--metafile`` writes mmpretrain ``metafile.yml`` entries of the
measured rows.

Example:
    python tools/leaderboard.py work_dirs/demo/eval/*.json \
        --quoted docs/results/quoted_vissl_model_zoo.json > leaderboard.md
"""
import argparse
import json

import yaml

from clusterfit_plugin.evaluation.leaderboard import (check_quoted,
                                                      markdown_table,
                                                      metafile_models)
from clusterfit_plugin.fileio import atomic_save_text


def read_json(path: str):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('rows', nargs='+', help='JSON row files')
    parser.add_argument(
        '--quoted',
        action='append',
        default=[],
        help='a JSON list of quoted rows to show beside the measured ones '
        '(repeatable)')
    parser.add_argument(
        '--metafile',
        help='also write the measured rows as metafile.yml Models entries '
        'to this file')
    parser.add_argument('--collection', default='ClusterFit')
    args = parser.parse_args(argv)
    rows = []
    for path in args.rows:
        row = read_json(path)
        if row.get('result', 'measured') != 'measured':
            raise ValueError(f'{path} is a {row.get("result")!r} row; pass '
                             'quoted rows with --quoted.')
        rows.append(row)
    measured = list(rows)
    for path in args.quoted:
        quoted = read_json(path)
        if not isinstance(quoted, list):
            raise ValueError(f'{path} must hold a JSON list of rows.')
        rows += check_quoted(quoted, path)
    print(markdown_table(rows))
    if args.metafile:
        atomic_save_text(
            args.metafile,
            yaml.safe_dump(
                dict(Models=metafile_models(measured, args.collection)),
                sort_keys=False))


if __name__ == '__main__':
    main()
