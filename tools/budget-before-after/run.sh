#!/usr/bin/env bash
# Times the budget planner of two builds on the same models, interleaved (old, new, old, new …) so both see the same
# machine load: `tools/budget-before-after/run.sh <old-repo> [rounds]`. <old-repo> is a checkout of the baseline commit
# (e.g. `git worktree add /tmp/old 95e5cdb`); both builds are built in Release. Prints per model the planner's own
# seconds (BudgetPlan.Stats.Seconds), sessions and error evaluations, best of the rounds, and new ÷ old.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
old="$(cd "$1" && pwd)"; rounds="${2:-2}"
models=(openwakeword-hello-deepa openwakeword-hello-deepa-old openwakeword-namaste-deepa ppocr-mobile-v2-cls)
for repo in "$old" "$root"; do
  [[ -e "$repo/.cache/models" ]] || ln -s "$root/.cache/models" "$repo/.cache/models" 2>/dev/null || { mkdir -p "$repo/.cache"; ln -s "$root/.cache/models" "$repo/.cache/models"; }
  dotnet build -c Release "$repo/tools/OnnxFactorize.Benchmarks" -v q -nologo >/dev/null
done
run() { # repo id -> "seconds sessions evaluations"
  dotnet "$1/tools/OnnxFactorize.Benchmarks/bin/Release/net10.0/OnnxFactorize.Benchmarks.dll" budget-ladders "$2" 0.02 no-guard 2>/dev/null \
    | grep -o 'SensitivitySessions = [0-9]*\|ErrorEvaluations = [0-9]*\|Seconds = [0-9.]*' | awk -F' = ' '{v[$1]=$2} END {print v["Seconds"], v["SensitivitySessions"], v["ErrorEvaluations"]}'
}
printf '| model | old s (sessions, evaluations) | new s (sessions, evaluations) | new ÷ old |\n| --- | --- | --- | --- |\n'
for id in "${models[@]}"; do
  best_old=""; best_new=""
  for ((r = 0; r < rounds; r++)); do
    o=$(run "$old" "$id"); n=$(run "$root" "$id")
    if [[ -z "$best_old" ]] || awk -v a="${o%% *}" -v b="${best_old%% *}" 'BEGIN{exit !(a<b)}'; then best_old="$o"; fi
    if [[ -z "$best_new" ]] || awk -v a="${n%% *}" -v b="${best_new%% *}" 'BEGIN{exit !(a<b)}'; then best_new="$n"; fi
  done
  read -r os oss oe <<<"$best_old"; read -r ns nss ne <<<"$best_new"
  printf '| %s | %.2f (%s, %s) | %.2f (%s, %s) | %.2f |\n' "$id" "$os" "$oss" "$oe" "$ns" "$nss" "$ne" "$(awk -v a="$ns" -v b="$os" 'BEGIN{print a/b}')"
done
