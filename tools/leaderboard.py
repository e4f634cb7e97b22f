"""Merge the JSON rows of tools/eval_features.py into a Markdown table.

Example:
    python tools/leaderboard.py work_dirs/demo/eval/*.json
"""
import argparse
import json


def table(rows: list) -> str:
    """A Markdown table: one row per evaluation, one column per protocol.

    Args:
        rows (list[dict]): rows written by tools/eval_features.py.

    Returns:
        str: the table.
    """
    protocols = []
    for row in rows:
        protocols += [p for p in row['top1'] if p not in protocols]
    head = ['method', 'source', 'backbone', 'K', 'dataset'] + [
        f'{p} top-1' for p in protocols] + ['checkpoint']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '---|' * len(head)]
    for row in rows:
        cells = [str(row[k]) for k in ('method', 'source', 'backbone', 'K',
                                       'dataset')]
        cells += [f"{row['top1'][p]:.2f}" if p in row['top1'] else '-'
                  for p in protocols]
        cells.append(row['checkpoint'])
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('rows', nargs='+', help='JSON row files')
    args = parser.parse_args()
    rows = []
    for path in args.rows:
        with open(path, encoding='utf-8') as f:
            rows.append(json.load(f))
    print(table(rows))


if __name__ == '__main__':
    main()
