# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Aggregate a multi-seed study of leaderboard rows: mean ± std, paired
gains of ClusterFit over its source, and the K-ablation plot.

A study row is a ``tools/eval_features.py`` row with three more keys:
``seed``, ``role`` (``'source'`` for a source network, ``'clusterfit'``
for a ClusterFit network trained from that source) and ``epochs`` (the
ClusterFit schedule; ``'-'`` for sources). Random initialisation is a
source like any other (``source='random-init'``).
"""
import io
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from clusterfit_plugin.fileio import atomic_save_text

PROTOCOL_TITLES = {
    'linear': 'linear',
    '10shot': '10-shot linear',
    'knn20': '20-NN'
}


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value).

    Args:
        values (Sequence[float]): the values.

    Returns:
        tuple[float, float]: mean and std (``ddof=1``).
    """
    arr = np.asarray(values, dtype=np.float64)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std


def summarize(rows: List[dict]) -> Dict[Tuple[str, str, object, object], dict]:
    """Group rows by (source, role, K, epochs) and aggregate every protocol.

    Args:
        rows (list[dict]): study rows (``source``, ``role``, ``K``,
            ``epochs``, ``seed``, ``top1``).

    Returns:
        dict: ``(source, role, K, epochs) -> {protocol: dict(mean, std,
        n, gain, gain_std, gain_n, wins)}``. ``gain`` is the mean over
        seeds of the paired difference to the source network of the same
        seed, ``wins`` the number of seeds where ClusterFit was above its
        source; both are None for sources and where no paired source row
        exists.
    """
    groups = defaultdict(list)
    source_top1 = {}
    for row in rows:
        groups[(row['source'], row['role'], row['K'],
                row['epochs'])].append(row)
        if row['role'] == 'source':
            source_top1[(row['source'], row['seed'])] = row['top1']
    summary = {}
    for key, members in sorted(groups.items(), key=_group_order):
        source, role = key[:2]
        stats = {}
        protocols = sorted({p for r in members for p in r['top1']})
        for p in protocols:
            values = [r['top1'][p] for r in members if p in r['top1']]
            mean, std = mean_std(values)
            entry = dict(
                mean=mean,
                std=std,
                n=len(values),
                gain=None,
                gain_std=None,
                gain_n=0,
                wins=None)
            if role == 'clusterfit':
                diffs = [
                    r['top1'][p] - source_top1[(source, r['seed'])][p]
                    for r in members
                    if p in source_top1.get((source, r['seed']), {})
                ]
                if diffs:
                    entry['gain'], entry['gain_std'] = mean_std(diffs)
                    entry['gain_n'] = len(diffs)
                    entry['wins'] = sum(d > 0 for d in diffs)
            stats[p] = entry
        summary[key] = stats
    return summary


def _group_order(item):
    (source, role, k, epochs), _ = item
    return (source, role
            != 'source', epochs if isinstance(epochs, int) else -1,
            k if isinstance(k, int) else -1)


def _cell(entry: Optional[dict]) -> str:
    if entry is None:
        return '-'
    text = f"{entry['mean']:.1f} ± {entry['std']:.1f}"
    return text if entry['n'] > 1 else f"{entry['mean']:.1f} (1 seed)"


def _gain_cell(entry: Optional[dict]) -> str:
    if entry is None or entry['gain'] is None:
        return '-'
    return (f"{entry['gain']:+.1f} ± {entry['gain_std']:.1f} "
            f"({entry['wins']}/{entry['gain_n']})")


def results_tables(summary: dict,
                   protocols: Sequence[str] = ('linear', '10shot', 'knn20'),
                   source_titles: Optional[Dict[str, str]] = None) -> str:
    """Two Markdown tables: top-1 mean ± std, and the paired gains.

    Args:
        summary (dict): the output of :func:`summarize`.
        protocols (Sequence[str]): protocol keys, in column order.
        source_titles (dict, optional): display names of the sources.

    Returns:
        str: Markdown.
    """
    titles = source_titles or {}
    names = [PROTOCOL_TITLES.get(p, p) for p in protocols]
    lines = [
        '| source | network | epochs | K | seeds | ' + ' | '.join(names) +
        ' |', '|---|---|---|---|---|' + '---|' * len(protocols)
    ]
    for (source, role, k, epochs), stats in summary.items():
        n = max(e['n'] for e in stats.values())
        network = 'source' if role == 'source' else 'ClusterFit'
        lines.append(f'| {titles.get(source, source)} | {network} | '
                     f'{epochs} | {k} | {n} | ' +
                     ' | '.join(_cell(stats.get(p)) for p in protocols) + ' |')
    gains = [
        '| source | epochs | K | ' + ' | '.join(names) + ' |',
        '|---|---|---|' + '---|' * len(protocols)
    ]
    for (source, role, k, epochs), stats in summary.items():
        if role != 'clusterfit':
            continue
        gains.append(f'| {titles.get(source, source)} | {epochs} | {k} | ' +
                     ' | '.join(_gain_cell(stats.get(p))
                                for p in protocols) + ' |')
    return '\n'.join(lines) + '\n\n' + '\n'.join(gains)


def plot_k_ablation(summary: dict,
                    path: str,
                    protocols: Sequence[str] = ('linear', '10shot', 'knn20'),
                    source_titles: Optional[Dict[str, str]] = None) -> None:
    """Plot ClusterFit top-1 against K, one panel per protocol.

    Each (source, schedule) is a series with ± std error bars (solid for
    the shortest schedule, dotted for longer ones); the source's own top-1
    is a dashed line of the same colour.

    Args:
        summary (dict): the output of :func:`summarize`.
        path (str): PNG file to write.
        protocols (Sequence[str]): one panel each.
        source_titles (dict, optional): display names of the sources.
    """
    # Its own Agg canvas: no pyplot, no global backend change.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from clusterfit_plugin.fileio import atomic_save_bytes
    titles = source_titles or {}
    sources = sorted({key[0] for key in summary})
    schedules = sorted({key[3] for key in summary if key[1] == 'clusterfit'})
    fig = Figure(figsize=(4.2 * len(protocols), 4.4))
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, len(protocols)))
    for ax, p in zip(axes, protocols):
        for i, source in enumerate(sources):
            color = f'C{i}'
            for j, epochs in enumerate(schedules):
                keys = sorted((key for key in summary
                               if key[0] == source and key[1] == 'clusterfit'
                               and key[3] == epochs and p in summary[key]),
                              key=lambda key: key[2])
                if not keys:
                    continue
                stats = [summary[key][p] for key in keys]
                ax.errorbar([key[2] for key in keys],
                            [e['mean'] for e in stats],
                            yerr=[e['std'] for e in stats],
                            color=color,
                            marker='o' if j == 0 else '*',
                            markersize=5 if j == 0 else 9,
                            linestyle='-' if j == 0 else ':',
                            capsize=3,
                            label=f'ClusterFit ({epochs} ep) from '
                            f'{titles.get(source, source)}')
            src = summary.get((source, 'source', '-', '-'), {}).get(p)
            if src is not None:
                ax.axhline(
                    src['mean'], color=color, linestyle='--', linewidth=1)
        ax.set_xscale('log')
        all_ks = sorted({key[2] for key in summary if key[1] == 'clusterfit'})
        ax.set_xticks(all_ks, [str(k) for k in all_ks])
        ax.minorticks_off()
        ax.set_xlabel('K (clusters)')
        ax.set_ylabel('top-1 %')
        ax.set_title(PROTOCOL_TITLES.get(p, p))
        ax.grid(True, alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    rows = -(-len(labels) // 4)
    fig.legend(
        handles,
        labels,
        loc='lower center',
        ncol=4,
        fontsize=7,
        title='dashed: the source network itself; bars: ± std over '
        'seeds',
        title_fontsize=7)
    fig.tight_layout(rect=(0, 0.06 + 0.045 * rows, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=110)
    atomic_save_bytes(path, buf.getvalue())


def write_section(path: str, section: str, begin: str, end: str,
                  title: str) -> None:
    """Replace the text between the markers ``begin`` and ``end`` of a
    document with ``section`` (which holds them), or append it to a new
    document with ``title``; written atomically.

    Args:
        path (str): the document.
        section (str): the new section, markers included.
        begin (str): the opening marker.
        end (str): the closing marker.
        title (str): the first line of a new document.
    """
    text = ''
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            text = f.read()
    if begin in text and end in text:
        text = (
            text[:text.index(begin)] + section +
            text[text.index(end) + len(end):])
    else:
        text = (text or f'{title}\n\n') + section + '\n'
    atomic_save_text(path, text)
