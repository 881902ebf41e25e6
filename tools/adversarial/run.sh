#!/bin/bash
# Process-level adversarial run over the generated corpus; prints one row per case: exit, stderr lines, files left.
# Usage: tools/adversarial/run.sh [work-folder]   (build the tests first: dotnet build tests/OnnxFactorize.Cli.Tests)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$ROOT/tests/OnnxFactorize.Cli.Tests/bin/Debug/net10.0/onnx-factorize.dll
OUT=${1:-$(mktemp -d)}
dotnet run "$ROOT/tools/adversarial/corpus.cs" -- "$OUT/corpus" >/dev/null
C=$OUT/corpus
W=$OUT/work; rm -rf $W; mkdir -p $W
declare -A EXITS; total=0; bad=0
run() { # name, expected-exit, args...
  local name=$1 exp=$2; shift 2
  rm -rf $W/out; mkdir -p $W/out
  local before=$(find $W -type f | grep -v '/out/' | sort | xargs -r sha256sum 2>/dev/null | sha256sum)
  timeout 60 dotnet $T "$@" >$OUT/so 2>$OUT/se; local rc=$?
  local lines=$(grep -c . $OUT/se); local left=$(find $W/out -mindepth 1 | wc -l)
  local after=$(find $W -type f | grep -v '/out/' | sort | xargs -r sha256sum 2>/dev/null | sha256sum)
  local changed=$([ "$before" = "$after" ] && echo no || echo YES)
  total=$((total+1)); EXITS[$rc]=$(( ${EXITS[$rc]:-0} + 1 ))
  local ok=ok; if [ "$rc" != "$exp" ] || [ $changed = YES ] || { [ $rc = 0 ] && [ $lines != 0 ]; } || { [ $rc != 0 ] && { [ $lines != 1 ] || [ $left != 0 ]; }; }; then ok=BAD; bad=$((bad+1)); fi
  printf "%-4s %-40s exit %3s  stderr %s line(s)  out-files %s  inputs-changed %s  %s\n" $ok "$name" $rc $lines $left $changed "$(head -c 150 $OUT/se)"
}
cp $C/*.onnx $W/
for m in cycle unsorted dup_outputs no_opset ir_version_0 int8_gemm negative_dims overflowing_dims "dims_over_2^31" bytes_not_matching_dims undefined_graph_output; do
  run "optimize $m --rank 2" 2 optimize "$W/$m.onnx" -o $W/out/o.onnx --rank 2
  run "analyze $m" 2 analyze "$W/$m.onnx" --report $W/out/a.json
  run "compare $m" 2 compare "$W/$m.onnx" "$W/$m.onnx"
done
run "empty gemm [1,0]" 0 optimize $W/empty10.onnx -o $W/out/o.onnx --rank 2
run "empty gemm [0,4]" 0 optimize $W/empty04.onnx -o $W/out/o.onnx --rank 2
run "huge declared input" 2 compare $W/huge.onnx $W/huge.onnx
run "--report = input" 2 optimize $W/mlp.onnx -o $W/out/o.onnx --validate --report $W/mlp.onnx
run "compare --report = a" 2 compare $W/mlp.onnx $W/mlp.onnx --report $W/mlp.onnx
run "--html = -o" 2 optimize $W/mlp.onnx -o $W/out/o.onnx --validate --html $W/out/o.onnx
mkdir -p $W/a/sub; cp $W/mlp.onnx $W/a/sub/m.onnx; ln -s $W/a $W/L
run "-o through ancestor link = input" 2 optimize $W/a/sub/m.onnx -o $W/L/sub/m.onnx
mkfifo $W/fifo.onnx
run "FIFO model" 2 optimize $W/fifo.onnx -o $W/out/o.onnx
run "FIFO --inputs" 2 optimize $W/mlp.onnx -o $W/out/o.onnx --validate --inputs $W/fifo.onnx
run "/dev/zero model" 2 optimize /dev/zero -o $W/out/o.onnx
run "catastrophic --only" 0 optimize $W/mlp.onnx -o $W/out/o.onnx --only '^(a+)+$'
run "backreference --only" 0 optimize $W/mlp.onnx -o $W/out/o.onnx --only '^((a+)+)\1$'
n=$(printf 'n%.0s' $(seq 235)).onnx
run "240-char output name" 0 optimize $W/mlp.onnx -o "$W/out/$n" --external-data
run "ORT warning stays off stderr" 0 compare $W/unused.onnx $W/unused.onnx --runs 1
echo "cases $total, not as expected $bad; exit codes: $(for k in "${!EXITS[@]}"; do echo -n "$k: ${EXITS[$k]}  "; done)"
