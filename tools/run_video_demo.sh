#!/usr/bin/env bash
# ClusterFit on video, end to end on generated moving-digit clips, on the
# CPU: seed 0 of the video study (docs/results_video.md) on a shorter
# schedule, EPOCHS epochs for the source and for ClusterFit (the study: 12).
#   1. generate the clips (an MNIST digit moving over clutter; PyAV, H.264)
#   2. source: a small R(2+1)D-18 trained on 40%-wrong digit labels
#   3. ClusterFit through tools/train.py: extract, k-means (K clusters),
#      train anew
#   4. frozen-feature evaluation of random init, source and ClusterFit on
#      both label sets: the digit and the motion
# Usage: bash tools/run_video_demo.sh   (`make demo-video` sets up .venv first)
#        EPOCHS=12 K=100 bash tools/run_video_demo.sh   the study's seed 0
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/demo/common.sh
WORK=${WORK:-work_dirs/video_demo}
EPOCHS=${EPOCHS:-6}
K=${K:-10}
SCHEDULE="train_cfg.max_epochs=$EPOCHS param_scheduler.T_max=$EPOCHS default_hooks.checkpoint.interval=$EPOCHS"

echo "== 1/4 data: moving digits (2,000 train / 1,000 test clips)"
$PY tools/demo/make_moving_digits.py --out data/moving_digits
step_done data

echo "== 2/4 source: R(2+1)D-18 (16 base channels) on 40%-wrong digit labels, $EPOCHS epochs"
SOURCE_CFG=configs/demo/noisy-label_r2plus1d-18-mini_moving-digits.py
$PY tools/train.py $SOURCE_CFG --work-dir $WORK/source --cfg-options $SCHEDULE \
    2>&1 | log "\]\[120/|Saving|Error"
SOURCE_CKPT=$(latest_checkpoint $WORK/source)
step_done source

echo "== 3/4 ClusterFit: cluster the source's clip features (K=$K), train from scratch, $EPOCHS epochs"
CF_CFG=configs/demo/clusterfit_r2plus1d-18-mini_moving-digits.py
$PY tools/train.py $CF_CFG --work-dir $WORK/clusterfit --num-clusters $K \
    --cfg-options custom_hooks.0.source.checkpoint=$SOURCE_CKPT $SCHEDULE \
    2>&1 | log "$CLUSTERING_LINES|\]\[120/|Saving|Error"
CF_CKPT=$(latest_checkpoint $WORK/clusterfit)
step_done ClusterFit

echo "== 4/4 frozen backbone features on the digit and on the motion: linear, 10-shot linear, 20-NN (top-1 %)"
rm -rf $WORK/eval
DATA=configs/demo/_base_/moving_digits.py
EVAL_ARGS="--batch-size 64 --table $WORK/results.md" \
    evaluate $DATA $WORK/eval \
    "$SOURCE_CFG none random-init -" \
    "$SOURCE_CFG $SOURCE_CKPT noisy-label-source -" \
    "$WORK/clusterfit/$(basename $CF_CFG) $CF_CKPT clusterfit-K$K noisy-label-source"
echo
cat $WORK/results.md
step_done evaluation
echo
echo "video demo finished in ${SECONDS}s; table: $WORK/results.md"
