# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The benchmark scripts that have no GPU or long run in them still run and
print their table (their figures are recorded in docs/benchmarks.md, not
checked here)."""
import os.path as osp
import subprocess
import sys

from helpers import ROOT


def test_ingest_benchmark_prints_every_path(tmp_path):
    done = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'benchmarks', 'ingest.py'), '--n', '4096',
        '--d', '64', '--chunk', '1000', '--repeats', '1', '--dir',
        str(tmp_path)
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [
        line.split(' | ')[0] for line in done.stdout.splitlines()
        if line.startswith('| ') and not line.startswith('| path')
        and not line.startswith('| ---')
    ]
    assert rows == [
        '| bare read', '| numpy, one thread (before issue 30)',
        '| plugin, reading thread only (the host when a GPU converts)',
        '| plugin, the CPU converts (device_chunks on the CPU)',
        '| torch float16 -> float32 only'
    ]
    assert '| bare read | ' in done.stdout and '| 1.00 |' in done.stdout
