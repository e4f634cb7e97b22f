# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""Share of a ClusterFit run spent on extraction + clustering vs training.

Reads a finished work dir: the manifest's timings (extraction, k-means) and
the run's log, whose first and last timestamps bound the whole run.

Usage:
    python tools/benchmarks/e2e_share.py work_dirs/demo/clusterfit
"""
import argparse
import glob
import json
import os.path as osp
import re
from datetime import datetime

STAMP = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - mmengine')


def run_seconds(log_path: str) -> float:
    """Seconds between the first and last timestamped lines of a log."""
    stamps = []
    with open(log_path, encoding='utf-8') as f:
        for line in f:
            m = STAMP.match(line)
            if m:
                stamps.append(
                    datetime.strptime(m.group(1), '%Y/%m/%d %H:%M:%S'))
    return (stamps[-1] - stamps[0]).total_seconds()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    args = parser.parse_args()
    with open(osp.join(args.work_dir, 'clusterfit', 'manifest.json')) as f:
        timings = json.load(f)['timings']
    logs = sorted(glob.glob(osp.join(args.work_dir, '*', '*.log')))
    total = run_seconds(logs[-1])
    clustering = timings['extract_s'] + timings['kmeans_total_s']
    print(f'run {total:.0f}s: extraction {timings["extract_s"]:.1f}s + '
          f'k-means {timings["kmeans_total_s"]:.2f}s = {clustering:.1f}s '
          f'({100 * clustering / total:.1f}%), training and the rest '
          f'{total - clustering:.0f}s ({100 * (1 - clustering / total):.1f}%)')


if __name__ == '__main__':
    main()
