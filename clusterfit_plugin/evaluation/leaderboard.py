# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Leaderboard rows: measured ones written by ``tools/eval_features.py``,
quoted ones read from a file with their citation, their Markdown table and
the metafile entries of the measured ones."""
from typing import Dict, List, Optional

from ..settings import check_keys

COLUMNS = ('method', 'source', 'backbone', 'K', 'dataset')
ROW_KEYS = ('method', 'source', 'backbone', 'K', 'dataset', 'protocol',
            'settings', 'top1', 'top5', 'mAP', 'checkpoint', 'result',
            'citation', 'command')
# The score fields of a row (protocol -> %), in table order.
SCORES = (('top1', 'top-1', 'Top 1 Accuracy'),
          ('top5', 'top-5', 'Top 5 Accuracy'), ('mAP', 'mAP', 'mAP'))
RESULTS = ('measured', 'quoted')


def backbone_name(backbone_cfg: dict) -> str:
    """The backbone's type with its depth or arch (``'ResNet-50'``,
    ``'ResNet_CIFAR-18'``, ``'VisionTransformer-base'``).

    Args:
        backbone_cfg (dict): the model config's ``backbone``.

    Returns:
        str: the name.
    """
    name = backbone_cfg['type']
    for key in ('depth', 'arch'):
        if isinstance(backbone_cfg.get(key), (int, str)):
            return f'{name}-{backbone_cfg[key]}'
    return name


def cluster_count(model_cfg: dict, checkpoint: Optional[str]):
    """K for a trained ClusterFit model, ``'-'`` for anything else (a
    random init of a ClusterFit config has learnt no clusters).

    Args:
        model_cfg (dict): the model config.
        checkpoint (str, optional): its weights; None for a random init.

    Returns:
        int | str: K, or ``'-'``.
    """
    head = model_cfg.get('head') or {}
    if checkpoint is None or head.get('type') != 'ClusterFitHead':
        return '-'
    return head['num_clusters']


def make_row(method: str,
             source: str,
             model_cfg: dict,
             dataset: str,
             protocol: str,
             settings: dict,
             top1: Dict[str, float],
             checkpoint: Optional[str],
             checkpoint_id: str,
             command: str,
             top5: Optional[Dict[str, float]] = None,
             mean_ap: Optional[Dict[str, float]] = None) -> dict:
    """One measured leaderboard row.

    Args:
        method (str): the model's name.
        source (str): the source it came from (``'-'`` for none).
        model_cfg (dict): its model config (backbone, head).
        dataset (str): the data it was scored on.
        protocol (str): how (stage, split sizes).
        settings (dict): the protocols' settings (classifier, shots, k).
        top1 (dict): protocol -> top-1 % (empty for multi-label data).
        checkpoint (str, optional): the checkpoint file; None for a random
            init.
        checkpoint_id (str): its short hash (or the random init's seed).
        command (str): the command that made the row.
        top5 (dict, optional): protocol -> top-5 % (more than 5 classes).
        mean_ap (dict, optional): protocol -> mean average precision %
            (multi-label data, VOC07).

    Returns:
        dict: the row, scores rounded to 2 decimals and sorted by
        protocol (``top5`` and ``mAP`` only when given).
    """
    row = dict(
        method=method,
        source=source,
        backbone=backbone_name(model_cfg['backbone']),
        K=cluster_count(model_cfg, checkpoint),
        dataset=dataset,
        protocol=protocol,
        settings=settings,
        top1={
            k: round(v, 2)
            for k, v in sorted(top1.items())
        },
        checkpoint=checkpoint_id,
        result='measured',
        command=command)
    for key, scores in (('top5', top5), ('mAP', mean_ap)):
        if scores:
            row[key] = {k: round(v, 2) for k, v in sorted(scores.items())}
    return row


def check_quoted(rows: List[dict], where: str) -> List[dict]:
    """Check rows quoted from a publication: known keys only, each with
    its citation and marked ``result='quoted'``.

    Args:
        rows (list[dict]): the rows.
        where (str): their file, for messages.

    Returns:
        list[dict]: the rows.
    """
    for i, row in enumerate(rows):
        check_keys(row, ROW_KEYS, f'{where} row {i}')
        missing = [
            k for k in COLUMNS + ('protocol', 'citation') if not row.get(k)
        ] + ([] if row.get('top1') or row.get('mAP') else ['top1 or mAP'])
        if missing or row.get('result') != 'quoted':
            raise ValueError(
                f'{where} row {i} ({row.get("method")!r}): a quoted row '
                f'needs result=\'quoted\' and {", ".join(missing) or "-"}; '
                'give each quoted number its citation.')
    return rows


def markdown_table(rows: List[dict]) -> str:
    """A Markdown table: one row per evaluation, one column per protocol;
    quoted rows are marked and their citations listed under the table.

    Args:
        rows (list[dict]): leaderboard rows.

    Returns:
        str: the table.
    """
    columns = {key: [] for key, _, _ in SCORES}
    citations = []
    for row in rows:
        for key, names in columns.items():
            names += [p for p in row.get(key, {}) if p not in names]
        if row.get('result') == 'quoted' and row['citation'] not in citations:
            citations.append(row['citation'])
    head = list(COLUMNS) + [
        f'{p} {title}' for key, title, _ in SCORES for p in columns[key]
    ] + ['checkpoint', 'result']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for row in rows:
        cells = [str(row[k]) for k in COLUMNS]
        for key, names in columns.items():
            values = row.get(key, {})
            cells += [
                f'{values[p]:.2f}' if p in values else '-' for p in names
            ]
        cells.append(str(row['checkpoint']))
        cells.append(f'quoted [{citations.index(row["citation"]) + 1}]' if row.
                     get('result') == 'quoted' else 'measured')
        lines.append('| ' + ' | '.join(cells) + ' |')
    if citations:
        lines.append('')
        lines += [f'[{i}] {c}' for i, c in enumerate(citations, 1)]
    return '\n'.join(lines)


def metafile_models(rows: List[dict], collection: str) -> List[dict]:
    """mmpretrain ``metafile.yml`` ``Models`` entries from measured rows
    (one per method, a result per dataset).

    Args:
        rows (list[dict]): measured leaderboard rows.
        collection (str): the metafile collection (``'ClusterFit'``).

    Returns:
        list[dict]: the entries, ready for ``yaml.safe_dump``.
    """
    models: Dict[str, dict] = {}
    for row in rows:
        if row.get('result') != 'measured':
            raise ValueError(
                f'row {row.get("method")!r} is {row.get("result")!r}: a '
                'metafile lists measured results only.')
        entry = models.setdefault(
            row['method'],
            dict(
                Name=row['method'],
                Metadata=dict(
                    Architecture=[row['backbone']],
                    Source=row['source'],
                    Clusters=row['K'],
                    Checkpoint=row['checkpoint']),
                **{'In Collection': collection},
                Results=[]))
        entry['Results'].append(
            dict(
                Task='Frozen-feature classification',
                Dataset=row['dataset'],
                Metrics={
                    f'{p} {metric}': v
                    for key, _, metric in SCORES
                    for p, v in row.get(key, {}).items()
                },
                Protocol=row['protocol']))
    return list(models.values())
