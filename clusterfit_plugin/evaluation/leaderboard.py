# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Leaderboard rows written by ``tools/eval_features.py`` and their table."""
from typing import Dict, List

COLUMNS = ('method', 'source', 'backbone', 'K', 'dataset')


def make_row(method: str, source: str, model_cfg: dict, dataset: str,
             protocol: str, top1: Dict[str, float], checkpoint: str,
             command: str) -> dict:
    """One leaderboard row.

    Args:
        method (str): the model's name.
        source (str): the source it came from (``'-'`` for none).
        model_cfg (dict): its model config (backbone type, head's K).
        dataset (str): the data it was scored on.
        protocol (str): how (stage, split sizes).
        top1 (dict): protocol -> top-1 %.
        checkpoint (str): the checkpoint's short hash.
        command (str): the command that made the row.

    Returns:
        dict: the row, top-1 rounded to 2 decimals and sorted by protocol.
    """
    head = model_cfg.get('head') or {}
    return dict(
        method=method,
        source=source,
        backbone=model_cfg['backbone']['type'],
        K=head.get('num_clusters', '-'),
        dataset=dataset,
        protocol=protocol,
        top1={
            k: round(v, 2)
            for k, v in sorted(top1.items())
        },
        checkpoint=checkpoint,
        command=command)


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
