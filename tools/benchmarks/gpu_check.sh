#!/usr/bin/env bash
# The prepared GPU check (issue 30, item 3): one script, one device call.
#
#   1. paper-scale clustering at ImageNet-1k's shape (1,281,167 x 2048
#      float16 on the disk store, K=16,000): float32 and float16 fitting
#      samples, and TF32, against a bare torch Lloyd loop and the matrix
#      product's own rate (tools/benchmarks/paper_scale.py);
#   2. tests/test_cuda.py;
#   3. training throughput of configs/clusterfit_r50.py and
#      configs/clusterfit_r2plus1d_34.py against stock mmpretrain on
#      generated ImageNet- and Kinetics-shaped data, AMP and channels-last
#      on and off (tools/benchmarks/train_overhead.py);
#   4. the linear probe's fit, scikit-learn against torch on the GPU
#      (tools/benchmarks/linear_probe.py).
#
# Each step's output goes to OUT (default work_dirs/gpu_check) as it ends,
# with its wall time, so a run cut short still leaves what it finished.
# Budget on one H100 or H200, estimated (never run there yet): about 4 min
# for step 1, 1 for step 2, 5 for step 3. Where one call allows less, run
# the steps in two calls with STEPS.
#
# Usage:
#   bash tools/benchmarks/gpu_check.sh [OUT]            # on the GPU machine
#   bash tools/benchmarks/gpu_check.sh --dry-run [OUT]  # tiny, on the CPU
#   STEPS="train_image train_video" bash tools/benchmarks/gpu_check.sh
# PYTHON picks the interpreter (default: .venv/bin/python, else python).
set -euo pipefail
cd "$(dirname "$0")/../.."

DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then
    DRY_RUN=1
    shift
fi
OUT=${1:-work_dirs/gpu_check}
PYTHON=${PYTHON:-$([[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python)}
mkdir -p "$OUT"

if (( DRY_RUN )); then
    SCALE=(--n 3000 --d 32 --k 20 --modes 40 --niter 5)
    IMAGE=(image --dry-run)
    VIDEO=(video --dry-run)
    PROBE=(--n 400 --d 16 --classes 4)
else
    if ! "$PYTHON" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
        echo "gpu_check.sh: CUDA is not available to $PYTHON; use --dry-run on a CPU machine." >&2
        exit 2
    fi
    SCALE=(--n 1281167 --d 2048 --k 16000 --niter 10 --tf32)
    IMAGE=(image --iters 200 --warmup 20 --variants fp32 amp_channels_last)
    VIDEO=(video --iters 60 --warmup 10 --variants amp fp32)
    PROBE=(--n 20000 --d 512 --classes 100)
fi

STEPS=${STEPS:-paper_scale test_cuda train_image train_video linear_probe}
step() {
    local name=$1
    shift
    if [[ " $STEPS " != *" $name "* ]]; then
        return 0
    fi
    echo "== $name: $*"
    local start=$SECONDS
    "$@" > "$OUT/$name.log" 2>&1 || {
        echo "== $name FAILED after $((SECONDS - start)) s; the end of $OUT/$name.log:"
        tail -n 40 "$OUT/$name.log"
        return 1
    }
    grep -E '^\||passed|skipped|failed' "$OUT/$name.log" | tail -n 12
    echo "== $name: $((SECONDS - start)) s"
}

"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else "")'
step paper_scale "$PYTHON" tools/benchmarks/paper_scale.py "${SCALE[@]}"
step test_cuda "$PYTHON" -m pytest tests/test_cuda.py -q -p no:cacheprovider
step train_image "$PYTHON" tools/benchmarks/train_overhead.py "${IMAGE[@]}" --work-dir "$OUT/train_image"
step train_video "$PYTHON" tools/benchmarks/train_overhead.py "${VIDEO[@]}" --work-dir "$OUT/train_video"
step linear_probe "$PYTHON" tools/benchmarks/linear_probe.py "${PROBE[@]}"
echo "gpu_check.sh: done, logs in $OUT"
