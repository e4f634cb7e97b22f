# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Merge the JSON rows of tools/eval_features.py into a Markdown table.

Example:
    python tools/leaderboard.py work_dirs/demo/eval/*.json > leaderboard.md
"""
import argparse
import json

from clusterfit_plugin.evaluation.leaderboard import markdown_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('rows', nargs='+', help='JSON row files')
    args = parser.parse_args()
    rows = []
    for path in args.rows:
        with open(path, encoding='utf-8') as f:
            rows.append(json.load(f))
    print(markdown_table(rows))


if __name__ == '__main__':
    main()
