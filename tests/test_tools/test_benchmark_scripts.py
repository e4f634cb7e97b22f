# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""The benchmark scripts that have no GPU or long run in them still run and
print their table (their figures are recorded in docs/benchmarks.md, not
checked here)."""
import os
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


def test_gpu_check_dry_run(tmp_path):
    """The prepared device script runs every step at tiny size on the CPU
    (issue 30, item 3), so the GPU call cannot fail on a typo."""
    out = tmp_path / 'out'
    done = subprocess.run([
        'bash',
        osp.join(ROOT, 'tools', 'benchmarks', 'gpu_check.sh'), '--dry-run',
        str(out)
    ],
                          capture_output=True,
                          text=True,
                          timeout=900,
                          env=dict(os.environ, PYTHON=sys.executable))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for step in ('paper_scale', 'test_cuda', 'train_image', 'train_video',
                 'linear_probe'):
        assert f'== {step}: ' in done.stdout and (out / f'{step}.log').exists()
    # Each table has its rows: the plugin's runs beside their references.
    assert '| plugin, float16 sample (torch' in done.stdout
    assert '| bare torch Lloyd' in done.stdout
    assert done.stdout.count('| fp32 | ') == 2  # image and video
