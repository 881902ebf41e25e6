#!/usr/bin/env bash
# Wall time and peak RSS of `onnx-factorize optimize` on a ResNet-18-shaped model (tools/OnnxFactorize.ModelGen, random
# weights) for the issue's cases: --rank-ratio 0.25 (auto method), the default energy, and --rank-ratio 0.25 --threads 1.
# With a baseline CLI (onnx-factorize.dll of another build, e.g. copied from a checkout of the starting commit) each case
# runs baseline then ours, interleaved over rounds so both see the same load; prints best-of-rounds, new ÷ old, the load
# average at each run, and whether both wrote the same bytes.
# Usage: tools/tucker-compare/optimize-resnet18.sh [baseline/onnx-factorize.dll] [rounds]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base="${1:-}"; rounds="${2:-1}"
model="$root/out/resnet18.onnx"; work="${TMPDIR:-/tmp}/optimize-resnet18"
mkdir -p "$root/out" "$work"
[ -f "$model" ] || dotnet run -c Release --project "$root/tools/OnnxFactorize.ModelGen" -- resnet18 "$model" random >/dev/null
dotnet build -c Release "$root/src/OnnxFactorize.Cli" -v q -nologo >/dev/null
ours="$root/src/OnnxFactorize.Cli/bin/Release/net10.0/onnx-factorize.dll"
cases=("ratio-0.25|--rank-ratio 0.25" "energy-default|" "ratio-0.25-threads-1|--rank-ratio 0.25 --threads 1")
run() { # dll name args -> "seconds KB load"
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  # shellcheck disable=SC2086
  if /usr/bin/time -f '%e %M' -o "$work/time" dotnet "$1" optimize "$model" -o "$work/$2.onnx" -q $3 >/dev/null 2>&1; then
    echo "$(tail -n1 "$work/time") $load"
  else
    echo "failed 0 $load"   # e.g. an older build that does not know an option of the case
  fi
}
best() { awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); print (b=="" || x[1]=="failed" || (y[1]!="failed" && x[1]<y[1])) ? (x[1]=="failed" && b!="" ? b : a) : b}'; }
printf '| case | %sours s (peak MB, load) | new ÷ old | same bytes |\n| --- | %s--- | --- | --- |\n' "${base:+old s (peak MB, load) | }" "${base:+--- | }"
for c in "${cases[@]}"; do
  name="${c%%|*}"; args="${c#*|}"; bo=""; bn=""
  for ((r = 0; r < rounds; r++)); do
    [ -n "$base" ] && bo=$(best "$(run "$base" "$name-old" "$args")" "$bo")
    bn=$(best "$(run "$ours" "$name-new" "$args")" "$bn")
  done
  read -r ns nk nl <<<"$bn"
  if [ -n "$base" ]; then
    read -r os ok ol <<<"$bo"
    if [ "$os" = failed ]; then
      printf '| %s | failed | %s (%d, %s) | | |\n' "$name" "$ns" $((nk / 1024)) "$nl"
      continue
    fi
    same=$(cmp -s "$work/$name-old.onnx" "$work/$name-new.onnx" && echo yes || echo NO)
    printf '| %s | %s (%d, %s) | %s (%d, %s) | %.2f | %s |\n' "$name" "$os" $((ok / 1024)) "$ol" "$ns" $((nk / 1024)) "$nl" "$(awk -v a="$ns" -v b="$os" 'BEGIN{print a/b}')" "$same"
  else
    printf '| %s | %s (%d, %s) | | |\n' "$name" "$ns" $((nk / 1024)) "$nl"
  fi
done
echo "machine: $(nproc) cores; $(uptime)"
