#!/usr/bin/env bash
# Benchmark (not a unit test): a transformer-shaped model over 2 GiB, stored with external data, through the whole tool.
#   tools/big-model/run.sh [layers] [dim]      default 17 2048: 17 × 12·2048² + 2048² weights = 3.4 GB (≥ 3 GiB)
#   tools/big-model/run.sh 12 768              the 86 M-parameter, 343 MB transformer
# Generates the model with tools/OnnxFactorize.ModelGen (weights streamed to disk as they are generated), then with the
# Release CLI: a no-op copy (optimize --only '^$', byte-compared), optimize --rank-ratio 0.5 --validate (the validation
# loads the output in ONNX Runtime and runs it against the original), and `compare` of the output with itself, which
# loads it in ONNX Runtime once more on its own. Prints wall time and peak RSS (/usr/bin/time -f %M) of each step.
# Needs about 3× the model's size free on disk and, for the validation (which measures latency, so both models are loaded
# in ONNX Runtime with their pre-packed weights), about 2.2× the model's size free in memory. Files go to out/big-model (git-ignored) and are deleted at the end unless KEEP=1.
# ONLY='<regex>' restricts which nodes are factorized (e.g. ONLY='layer0\.ffn' — one 2048×8192 SVD takes minutes on a
# loaded 2-core box); every other weight is still read, copied and validated.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
layers="${1:-17}"; dim="${2:-2048}"
work="$root/out/big-model"; bin="$work/bin"
cd "$root"
free -g | sed -n 1,2p
mkdir -p "$work"
dotnet build -c Release tools/OnnxFactorize.ModelGen -o "$bin/modelgen" -v q -nologo >/dev/null
dotnet build -c Release src/OnnxFactorize.Cli -o "$bin/cli" -v q -nologo >/dev/null
cli=(dotnet "$bin/cli/onnx-factorize.dll")
cleanup() { [[ "${KEEP:-0}" == 1 ]] || rm -rf "$work/model" "$work/copy" "$work/opt"; }
trap cleanup EXIT
step() { # name command... : prints "name: wall s, peak RSS MB"
  local name="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/$name.log" 2>&1 || { echo "$name failed (exit $?):"; tail -5 "$work/$name.log"; exit 1; }
  read -r wall kb < "$work/time.txt"
  printf '%-10s wall %7.1f s   peak RSS %6d MB\n' "$name" "$wall" $((kb / 1024))
}
rm -rf "$work/model" "$work/copy" "$work/opt"; mkdir -p "$work/model"
step generate dotnet "$bin/modelgen/OnnxFactorize.ModelGen.dll" transformer "$work/model/model.onnx" "$layers" "$dim" external
size=$(( $(stat -c %s "$work/model/model.onnx") + $(stat -c %s "$work/model/model.onnx.data") ))
echo "model: $layers layers, d=$dim, $((size / 1048576)) MB (model.onnx + model.onnx.data)"
step copy "${cli[@]}" optimize "$work/model/model.onnx" -o "$work/copy/model.onnx" --only '^$' --verbose
if cmp "$work/model/model.onnx.data" "$work/copy/model.onnx.data"; then echo "copy: data file byte-identical"; else exit 1; fi
only=(); [[ -n "${ONLY:-}" ]] && only=(--only "$ONLY")
step optimize "${cli[@]}" optimize "$work/model/model.onnx" -o "$work/opt/model.onnx" --rank-ratio 0.5 "${only[@]}" --validate --verbose --report "$work/opt/report.json"
grep -E "factorized|peak memory|verdict|error" "$work/optimize.log" | grep -v "│" | head -5 || true
step ort-load "${cli[@]}" compare "$work/opt/model.onnx" "$work/opt/model.onnx"
echo "output: $(( ($(stat -c %s "$work/opt/model.onnx") + $(stat -c %s "$work/opt/model.onnx.data")) / 1048576 )) MB; logs in $work/*.log"
