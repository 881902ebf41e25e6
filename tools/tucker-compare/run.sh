#!/usr/bin/env bash
# Runs OnnxFactorize's Tucker-2 and a numpy reference HOOI (float32, OpenBLAS matmul + LAPACK eigh) on identical
# ResNet-18-shaped conv tensors, same sweeps and stopping rule, and prints time and error ratios in one table.
# Usage: [ROUNDS=2] [SWEEPS=10] [TOL=1e-7] tools/tucker-compare/run.sh [repeats]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${TUCKER_COMPARE_DIR:-/tmp/tucker-compare}"
repeats="${1:-3}"
sweeps="${SWEEPS:-10}"
tol="${TOL:-1e-7}"
python="${PYTHON:-/usr/bin/python3}"
mkdir -p "$dir"

if ! "$python" -c "import numpy" 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3-numpy libopenblas0-pthread >/dev/null
fi
[ -f "$dir/manifest.json" ] || "$python" "$here/compare.py" gen "$dir"

dotnet build -c Release "$root/tools/OnnxFactorize.Benchmarks" -v q -nologo >/dev/null
# The machine may be shared: alternate the two sides over rounds so neither gets all the quiet moments.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set for the machine; numpy is benchmarked without both (this command only).
rounds="${ROUNDS:-2}"
ours=() theirs=()
for round in $(seq 1 "$rounds"); do
  dotnet run -c Release --no-build --project "$root/tools/OnnxFactorize.Benchmarks" -- tucker-compare "$dir" "$repeats" "$sweeps" "$tol" > "$dir/ours$round.json"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" "$here/compare.py" numpy "$dir" "$repeats" "$sweeps" "$tol" > "$dir/numpy$round.json"
  ours+=("$dir/ours$round.json") theirs+=("$dir/numpy$round.json")
done
uptime
"$python" "$here/compare.py" table "$dir" "$(IFS=,; echo "${ours[*]}")" "$(IFS=,; echo "${theirs[*]}")"
