# Copyright (c) clusterfit_plugin contributors. All rights reserved.
"""tools/dist_test.sh, tools/slurm_train.sh and tools/slurm_test.sh, run for
real: 2 gloo processes each, compared with one process. slurm's srun and
scontrol are stood in for by small scripts that start the tasks with the
variables slurm sets (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
SLURM_NODELIST)."""
import copy
import os
import os.path as osp
import stat
import subprocess
import sys

import numpy as np
import pytest
from helpers import PIPELINE, ROOT, free_port, make_cfg, run_runner
from mmengine.config import Config

FAKE_SRUN = r'''#!/usr/bin/env bash
echo "$@" > "$SRUN_LOG"
ntasks=1
while [ $# -gt 0 ]; do
  case "$1" in
    -p|-J) shift 2 ;;
    --ntasks=*) ntasks=${1#--ntasks=}; shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
pids=()
for ((i = 0; i < ntasks; i++)); do
  SLURM_PROCID=$i SLURM_NTASKS=$ntasks SLURM_LOCALID=$i \
  SLURM_NODELIST=node0 "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
'''
FAKE_SCONTROL = '#!/usr/bin/env bash\necho 127.0.0.1\n'


def write_script(path, text):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def cfg_with_test_split(work, image_root, checkpoint):
    """The tiny ClusterFit config with a test split: the images and their
    kinds, scored by accuracy (of cluster ids: only the agreement between
    launchers matters here)."""
    cfg = make_cfg(work, image_root, checkpoint)
    cfg.update(
        test_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='CustomDataset',
                data_root=image_root,
                ann_file='ann.txt',
                pipeline=copy.deepcopy(PIPELINE))),
        test_evaluator=dict(type='Accuracy', topk=(1, )),
        test_cfg=dict())
    return cfg


def run(args, cwd, **env):
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=dict(os.environ, OMP_NUM_THREADS='1', **env),
        capture_output=True,
        text=True,
        timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def accuracy(output):
    lines = [line for line in output.splitlines() if 'accuracy/top1:' in line]
    assert lines, output[-2000:]
    return float(lines[-1].split('accuracy/top1:')[1].split()[0])


@pytest.mark.slow
def test_slurm_and_dist_scripts(tmp_path, image_root, source_checkpoint):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    write_script(str(bin_dir / 'srun'), FAKE_SRUN)
    write_script(str(bin_dir / 'scontrol'), FAKE_SCONTROL)
    env = dict(
        PATH=f'{bin_dir}:{os.environ["PATH"]}',
        PYTHON=sys.executable,
        SRUN_LOG=str(tmp_path / 'srun.log'),
        GPUS='2',
        GPUS_PER_NODE='0',
        CPUS_PER_TASK='1')

    one = str(tmp_path / 'one')
    run_runner(cfg_with_test_split(one, image_root, source_checkpoint))
    config = str(tmp_path / 'cfg.py')
    Config(
        cfg_with_test_split(
            str(tmp_path / 'unused'), image_root,
            source_checkpoint)).dump(config)

    # slurm_train.sh: 2 tasks, the labels of one process.
    work = str(tmp_path / 'slurm')
    out = run([
        'bash',
        osp.join(ROOT, 'tools', 'slurm_train.sh'), 'cpu', 'cf', config, work
    ],
              str(tmp_path),
              MASTER_PORT=str(free_port()),
              **env)
    srun_args = open(env['SRUN_LOG']).read()
    assert '-p cpu --job-name=cf --ntasks=2' in srun_args
    assert '--launcher=slurm' in srun_args and '--gres' not in srun_args
    assert '(shard 1 of 2)' in out or '(shard 0 of 2)' in out
    np.testing.assert_array_equal(
        np.load(osp.join(work, 'clusterfit', 'labels.npy')),
        np.load(osp.join(one, 'clusterfit', 'labels.npy')))

    # slurm_test.sh and dist_test.sh: 2 processes score a checkpoint as one
    # process does.
    checkpoint = osp.join(one, 'epoch_1.pth')
    single = accuracy(
        run([
            sys.executable,
            osp.join(ROOT, 'tools', 'test.py'), config, checkpoint
        ], str(tmp_path)))
    slurm = accuracy(
        run([
            'bash',
            osp.join(ROOT, 'tools', 'slurm_test.sh'), 'cpu', 'cf', config,
            checkpoint
        ],
            str(tmp_path),
            MASTER_PORT=str(free_port()),
            **env))
    dist = accuracy(
        run([
            'bash',
            osp.join(ROOT, 'tools', 'dist_test.sh'), config, checkpoint, '2'
        ],
            str(tmp_path),
            PORT=str(free_port()),
            PYTHON=sys.executable))
    assert slurm == dist == single
