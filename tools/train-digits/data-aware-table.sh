#!/usr/bin/env bash
# The data-aware table (docs/data-aware.md): on the trained digits MLP and CNN, FLOPs cut and held-out accuracy drop for
# plain / whiten / sequential at fixed rank ratios, and for the budget planner with plain vs data-aware (whiten) rungs at
# given accuracy-drop budgets. Statistics and budgets use the calibration split only; accuracy is read on the evaluation
# split, which nothing in the factorization sees. FLOPs cut = FLOPs removed / FLOPs of all Gemm/MatMul/Conv nodes.
# Usage: tools/train-digits/data-aware-table.sh [ratios, default "0.25 0.5"] [budgets in points, default "1 2"].
# Needs tools/train-digits/run.sh first.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
digits="$repo/.cache/digits"
ratios="${1:-0.25 0.5}"
budgets="${2:-1 2}"
[ -f "$digits/mlp.onnx" ] || { echo "$digits/mlp.onnx not found: run tools/train-digits/run.sh first." >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet build "$repo/src/OnnxFactorize.Cli" -v q -nologo >/dev/null
cli=(dotnet "$repo/src/OnnxFactorize.Cli/bin/Debug/net10.0/onnx-factorize.dll")

row() { # model label optimized.onnx report.json
    local model=$1 label=$2 out=$3 report=$4
    "${cli[@]}" compare "$digits/$model.onnx" "$out" --inputs "$digits/$model/evaluation" \
        --labels "$digits/$model/evaluation/labels.npy" --runs 1 --report "$work/eval.json" -q >/dev/null || [ $? -eq 1 ]
    python3 - "$model" "$label" "$report" "$work/eval.json" <<'PY'
import json, sys
model, label, report, evaluation = sys.argv[1:]
r = json.load(open(report))
nodes = r["nodes"]
total = sum(n["flopsBefore"] for n in nodes if n["flopsBefore"] > 0)
cut = sum(n["flopsBefore"] - n["flopsAfter"] for n in nodes if n["status"] == "factorized")
o = json.load(open(evaluation))["outputs"][0]
drop = (o["originalAccuracy"] - o["optimizedAccuracy"]) * 100
print(f"| {model} | {label} | {100 * cut / total:.1f} % | {drop:.1f} | {o['relL2Error']:.3f} |", flush=True)
PY
}

echo "| model | method | FLOPs cut | held-out accuracy drop (points) | held-out output rel. L2 |"
echo "| --- | --- | --- | --- | --- |"
for model in mlp cnn; do
    calibration=("--inputs" "$digits/$model/calibration")
    for ratio in $ratios; do
        "${cli[@]}" optimize "$digits/$model.onnx" -o "$work/o.onnx" --rank-ratio "$ratio" --report "$work/r.json" -q >/dev/null
        row $model "ratio $ratio plain" "$work/o.onnx" "$work/r.json"
        for mode in whiten sequential; do
            "${cli[@]}" optimize "$digits/$model.onnx" -o "$work/o.onnx" --rank-ratio "$ratio" --data-aware $mode "${calibration[@]}" --no-cache \
                --report "$work/r.json" -q >/dev/null
            row $model "ratio $ratio $mode" "$work/o.onnx" "$work/r.json"
        done
    done
    for budget in $budgets; do
        for rungs in plain whiten; do
            extra=(); [ "$rungs" = whiten ] && extra=(--data-aware whiten)
            "${cli[@]}" optimize "$digits/$model.onnx" -o "$work/o.onnx" --max-accuracy-drop "$budget" "${calibration[@]}" \
                --labels "$digits/$model/calibration/labels.npy" --no-cache --no-latency-guard "${extra[@]}" --report "$work/r.json" -q >/dev/null
            row $model "budget ≤ $budget pt, $rungs rungs" "$work/o.onnx" "$work/r.json"
        done
    done
done
