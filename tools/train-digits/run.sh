#!/usr/bin/env bash
# Trains the digits MLP and CNN and writes them with their data splits to .cache/digits (git-ignored).
# Idempotent: installs only missing Debian packages, and skips training when the outputs exist (pass --force to retrain).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$repo/.cache/digits"

missing=()
for pkg in python3-torch python3-sklearn python3-numpy; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    apt-get install -y "${missing[@]}"
fi

if [ "${1:-}" != "--force" ] && [ -f "$out/summary.json" ] && [ -f "$out/mlp.onnx" ] && [ -f "$out/cnn.onnx" ]; then
    echo "up to date: $out (pass --force to retrain)"
    cat "$out/summary.json"
    exit 0
fi

# Debian's torch lives in the system interpreter, not in a pyenv/venv one that may come first on PATH.
/usr/bin/python3 "$repo/tools/train-digits/train.py" --out "$out"
