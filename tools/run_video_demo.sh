#!/usr/bin/env bash
# ClusterFit on video, end to end on generated clips, on the CPU.
#   1. generate clips of a square moving right / left / down / up (PyAV)
#   2. source: R(2+1)D-18 trained on the coarse axis of motion (2 classes)
#   3. ClusterFit through tools/train.py: extract, k-means K=8, train anew
#   4. frozen-feature evaluation on the 4 directions
# Usage: bash tools/run_video_demo.sh   (`make demo-video` sets up .venv first)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/demo/common.sh
WORK=${WORK:-work_dirs/video_demo}

echo "== 1/4 data: generated clips"
$PY tools/demo/make_videos.py --out data/moving_squares --per-class 24
step_done data

echo "== 2/4 source: R(2+1)D-18 on the axis of motion (weak, coarse labels)"
SOURCE_CFG=configs/demo/axis-label_r2plus1d-18_moving-squares.py
$PY tools/train.py $SOURCE_CFG --work-dir $WORK/source 2>&1 | log "Epoch\(train\)|Saving|Error"
SOURCE_CKPT=$(latest_checkpoint $WORK/source)
step_done source

echo "== 3/4 ClusterFit: cluster the source's clip features (K=8), train from scratch"
CF_CFG=configs/demo/clusterfit_r2plus1d-18_moving-squares.py
$PY tools/train.py $CF_CFG --work-dir $WORK/clusterfit \
    --cfg-options custom_hooks.0.source.checkpoint=$SOURCE_CKPT \
    2>&1 | log "$CLUSTERING_LINES|Epoch\(train\)|Saving|Error"
CF_CKPT=$(latest_checkpoint $WORK/clusterfit)
step_done ClusterFit

echo "== 4/4 frozen features on the 4 directions: linear, 5-shot linear, 5-NN (top-1 %)"
rm -rf $WORK/eval
DATA=configs/demo/_base_/moving_squares.py
EVAL_ARGS="--shots 5 --k 5 --batch-size 8 --table $WORK/results.md" \
    evaluate $DATA $WORK/eval \
    "$SOURCE_CFG none random-init -" \
    "$SOURCE_CFG $SOURCE_CKPT axis-label-source -" \
    "$CF_CFG $CF_CKPT clusterfit-K8 axis-label-source"
echo
cat $WORK/results.md
step_done evaluation
echo
echo "video demo finished in ${SECONDS}s; table: $WORK/results.md"
