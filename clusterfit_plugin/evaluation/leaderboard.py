# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Leaderboard rows written by ``tools/eval_features.py`` and their table."""
from typing import List

COLUMNS = ('method', 'source', 'backbone', 'K', 'dataset')


def markdown_table(rows: List[dict]) -> str:
    """A Markdown table: one row per evaluation, one column per protocol.

    Args:
        rows (list[dict]): rows with ``method``, ``source``, ``backbone``,
            ``K``, ``dataset``, ``top1`` (protocol -> %) and ``checkpoint``.

    Returns:
        str: the table.
    """
    protocols = []
    for row in rows:
        protocols += [p for p in row['top1'] if p not in protocols]
    head = list(COLUMNS) + [f'{p} top-1' for p in protocols] + ['checkpoint']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for row in rows:
        cells = [str(row[k]) for k in COLUMNS]
        cells += [
            f"{row['top1'][p]:.2f}" if p in row['top1'] else '-'
            for p in protocols
        ]
        cells.append(str(row['checkpoint']))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
