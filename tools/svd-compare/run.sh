#!/usr/bin/env bash
# Runs OnnxFactorize's truncated SVD and scikit-learn's randomized_svd on identical matrices and prints a table.
# Needs: apt-get install -y python3-sklearn libopenblas0-pthread   (without OpenBLAS numpy's reference BLAS flatters us)
# Usage: [ROUNDS=2] [GEMM=1] tools/svd-compare/run.sh [repeats]   (GEMM=1 also prints GFLOP/s of both GEMM backends)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${SVD_COMPARE_DIR:-/tmp/svd-compare}"
repeats="${1:-3}"
python="${PYTHON:-/usr/bin/python3}"
mkdir -p "$dir"

"$python" -c "import sklearn" 2>/dev/null || { echo "scikit-learn missing: apt-get install -y python3-sklearn libopenblas0-pthread" >&2; exit 1; }
[ -f "$dir/manifest.json" ] || "$python" "$here/compare.py" gen "$dir"

dotnet build -c Release "$root/tools/OnnxFactorize.Benchmarks" -v q -nologo >/dev/null
# The machine may be shared: alternate the two sides over rounds so neither gets all the quiet moments.
rounds="${ROUNDS:-2}"
ours=() theirs=()
for round in $(seq 1 "$rounds"); do
  dotnet run -c Release --no-build --project "$root/tools/OnnxFactorize.Benchmarks" -- svd-compare "$dir" "$repeats" > "$dir/ours$round.json"
  "$python" "$here/compare.py" sklearn "$dir" "$repeats" > "$dir/sklearn$round.json"
  ours+=("$dir/ours$round.json") theirs+=("$dir/sklearn$round.json")
done
uptime
"$python" "$here/compare.py" table "$dir" "$(IFS=,; echo "${ours[*]}")" "$(IFS=,; echo "${theirs[*]}")"
if [ "${GEMM:-0}" = 1 ]; then
  # The products of the power iterations (A·Ω, Aᵀ·Q) at each test size, ONNX Runtime (MLAS) and managed alternately.
  for shape in "4096 4096 266" "768 3072 74" "512 4608 138"; do
    dotnet run -c Release --no-build --project "$root/tools/OnnxFactorize.Benchmarks" -- gemm $shape | head -2
  done
fi
