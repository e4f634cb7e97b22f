# Shared by tools/run_demo.sh and tools/run_video_demo.sh; source it from the
# repository root. PY overrides the interpreter (default: .venv/bin/python).
PY=${PY:-.venv/bin/python}
export PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1

# log PATTERN: keep the lines of a training log that match PATTERN.
log() { grep --line-buffered -E "$1" || true; }
# The lines of the hook and of its clustering round worth showing.
CLUSTERING_LINES='ClusterFitHook:|extracting .* features|k-means K=|objective |reusing |cache in .* was made|clusters vs|diagnostics'


# step_done NAME: print the time of the step that just ended (since the previous
# call, or since the script started) and start timing the next one.
SECONDS=0
STEP_START=0
step_done() {
    echo "   ($1: $((SECONDS - STEP_START)) s)"
    STEP_START=$SECONDS
}

# latest_checkpoint WORK_DIR: the newest epoch_*.pth of a training run.
latest_checkpoint() { ls -t "$1"/epoch_*.pth | head -n1; }

# eval_row DATA_CFG OUT_DIR CONFIG CHECKPOINT NAME SOURCE [ARGS...]: one
# frozen-feature row by tools/eval_features.py, printed as "NAME: scores".
eval_row() {
    local data=$1 out=$2 cfg=$3 ckpt=$4 name=$5 source=$6
    shift 6
    $PY tools/eval_features.py "$cfg" "$ckpt" --data "$data" --name "$name" \
        --source-name "$source" --out-dir "$out" "$@" 2>&1 |
        tail -n2 | head -n1 | sed "s/^/$name: /"
}
