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

# evaluate DATA_CFG OUT_DIR "CONFIG CHECKPOINT NAME SOURCE" ["..." ...]: the
# frozen-feature rows of all the models, in one tools/eval_features.py process
# (one start-up for all), printed as "NAME: scores" (its whole log in
# OUT_DIR/eval.log, the end of it shown if it fails). EVAL_ARGS: more options.
evaluate() {
    local data=$1 out=$2 first also=()
    read -r -a first <<< "$3"
    shift 3
    for model in "$@"; do
        # shellcheck disable=SC2206
        also+=(--also $model)
    done
    mkdir -p "$out"
    # shellcheck disable=SC2086
    if ! $PY tools/eval_features.py "${first[0]}" "${first[1]}" \
        --name "${first[2]}" --source-name "${first[3]}" --data "$data" \
        --out-dir "$out" --channels-last ${EVAL_ARGS:-} "${also[@]}" \
        > "$out/eval.log" 2>&1; then
        tail -n 30 "$out/eval.log" >&2
        echo "evaluation failed; its log: $out/eval.log" >&2
        return 1
    fi
    log '^[A-Za-z0-9_./-]+: [a-z0-9]+ [0-9.]+ [|]' < "$out/eval.log"
}
