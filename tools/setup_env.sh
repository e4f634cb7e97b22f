#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv.
# Re-installs only when requirements.txt or setup.py changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON_BIN=${PYTHON_BIN:-$(command -v python3.11 || command -v python3)}
stamp="$VENV/.clusterfit-requirements.sha256"
want=$(cat requirements.txt setup.py | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    # torch 2.14.1 is a CUDA build: the environment takes about 6.3 GB.
    need_kb=$((7 * 1024 * 1024))
    for dir in "$(dirname "$VENV")" "${TMPDIR:-/tmp}"; do
        free_kb=$(df -Pk "$dir" | awk 'NR == 2 {print $4}')
        if [ "$free_kb" -lt "$need_kb" ]; then
            echo "error: $dir has $((free_kb / 1024)) MiB free; creating $VENV needs about 7 GiB" \
                 "(torch 2.14.1 with its CUDA libraries). Free space there, or point VENV=" \
                 "(and TMPDIR=) at a disk with room." >&2
            exit 1
        fi
    done
fi
echo "setting up $VENV with $PYTHON_BIN (torch 2.14.1, mmengine, mmcv-lite, mmpretrain 1.2.0, faiss-cpu, av, decord, tensorboard, openmim)"
[ -x "$VENV/bin/python" ] || "$PYTHON_BIN" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip 'setuptools<81' wheel
# torch first, from the pins: a bare `torch` would pull a multi-GB CUDA build.
"$VENV/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1
"$VENV/bin/python" -m pip install -q -r requirements.txt
# openmim for `mim train/test`, without its `opendatalab` dependency: that one
# serves only `mim download` of datasets and pins setuptools==60.2, which breaks
# mmengine's `mmpretrain::` configs. Its other dependencies are in requirements.txt.
"$VENV/bin/python" -m pip install -q --no-deps openmim==0.3.9
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
echo "$VENV ready"
