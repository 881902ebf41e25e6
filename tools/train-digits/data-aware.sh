#!/usr/bin/env bash
# Held-out accuracy of the digits MLP and CNN factorized at one rank ratio, plain vs --data-aware whiten, through the CLI.
# Statistics come from the calibration half, accuracy from the evaluation half (never seen by the factorization).
# Usage: tools/train-digits/data-aware.sh [rank-ratio, default 0.25]. Needs tools/train-digits/run.sh first.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
digits="$repo/.cache/digits"
ratio="${1:-0.25}"
[ -f "$digits/mlp.onnx" ] || { echo "$digits/mlp.onnx not found: run tools/train-digits/run.sh first." >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet build "$repo/src/OnnxFactorize.Cli" -v q -nologo >/dev/null
cli=(dotnet "$repo/src/OnnxFactorize.Cli/bin/Debug/net10.0/onnx-factorize.dll")

for model in mlp cnn; do
    "${cli[@]}" optimize "$digits/$model.onnx" -o "$work/$model-plain.onnx" --rank-ratio "$ratio" -q >/dev/null
    "${cli[@]}" optimize "$digits/$model.onnx" -o "$work/$model-whiten.onnx" --rank-ratio "$ratio" \
        --data-aware whiten --inputs "$digits/$model/calibration" --report "$work/$model-whiten.json" -q >/dev/null
    for mode in plain whiten; do
        "${cli[@]}" compare "$digits/$model.onnx" "$work/$model-$mode.onnx" --inputs "$digits/$model/evaluation" \
            --labels "$digits/$model/evaluation/labels.npy" --runs 1 --report "$work/$model-$mode-eval.json" -q >/dev/null \
            || [ $? -eq 1 ]   # 1 = a default threshold failed, expected for a lossy factorization; the accuracy is what is read
        python3 - "$model" "$mode" "$work/$model-$mode-eval.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[3]))["outputs"][0]
print(f"{sys.argv[1]:4} {sys.argv[2]:7} held-out accuracy {o['optimizedAccuracy'] * 100:5.1f} % (original {o['originalAccuracy'] * 100:5.1f} %), output rel. L2 {o['relL2Error']:.3f}")
PY
    done
done
