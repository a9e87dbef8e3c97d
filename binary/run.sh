#!/usr/bin/env bash
# Runs prism-wait on any runner: the released binary for this runner's OS
# and architecture, checked against the SHA-256 sum pinned in SHA256SUMS
# beside this script, as the CLI of a run: step (inputs come in as PRISM_*,
# set by action.yml; outputs, summary and annotations go where the runner
# reads them). Bash is there on every hosted runner (Git Bash on Windows).
set -euo pipefail

here="${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")" && pwd)}"
tmp="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
version=$(tr -d '[:space:]' < "$here/VERSION" 2>/dev/null || true)

fail() { # title, message
  echo "::error title=$1::$2"
  exit 1
}

platforms() { # the platforms SHA256SUMS lists, as os/arch
  local list
  list=$(sed -n 's/^[0-9a-f]\{64\}  *\*\{0,1\}prism-wait_\([a-z0-9]*\)_\([a-z0-9]*\)\(\.exe\)\{0,1\}$/\1\/\2/p' "$here/SHA256SUMS" | sort -u | tr '\n' ' ')
  echo "${list:-none}"
}

case "${RUNNER_OS:-}" in
  Linux) os=linux ;;
  macOS) os=darwin ;;
  Windows) os=windows ;;
  *) os="" ;;
esac
case "${RUNNER_ARCH:-}" in
  X64) arch=amd64 ;;
  ARM64) arch=arm64 ;;
  *) arch="" ;;
esac
ext=""
[ "$os" = windows ] && ext=.exe

if [ -z "$version" ]; then
  # main: no release pinned. Build from this checkout of the action.
  if ! command -v go > /dev/null; then
    fail "No release pinned" "This is prism-wait/binary from a branch, where no release is pinned (binary/VERSION is empty). Use a release, e.g. uses: prism-wait/prism-wait/binary@v1, or install Go first (actions/setup-go) to build it from source."
  fi
  bin="$tmp/prism-wait-source/prism-wait$ext"
  echo "No release pinned: building prism-wait from source with $(go version)"
  (cd "$here/.." && CGO_ENABLED=0 go build -trimpath -o "$bin" .)
else
  if [ -z "$os" ] || [ -z "$arch" ]; then
    fail "Unsupported runner" "prism-wait ${version} has no binary for this runner (RUNNER_OS=${RUNNER_OS:-unset}, RUNNER_ARCH=${RUNNER_ARCH:-unset}). Platforms in this release: $(platforms)"
  fi
  name="prism-wait_${os}_${arch}${ext}"
  want=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$here/SHA256SUMS")
  if [ -z "$want" ]; then
    fail "Unsupported runner" "prism-wait ${version} has no pinned binary for ${os}/${arch}. Platforms in this release: $(platforms)"
  fi
  base="${PRISM_WAIT_RELEASE_BASE:-https://github.com/prism-wait/prism-wait/releases/download/${version}}"
  dir="$tmp/prism-wait-${version}"
  bin="$dir/$name"
  sum() {
    if command -v sha256sum > /dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | awk '{ print $1 }'
  }
  if [ ! -f "$bin" ] || [ "$(sum "$bin")" != "$want" ]; then
    mkdir -p "$dir"
    rm -f "$bin.part"
    if ! curl -fsSL --retry 3 --connect-timeout 20 -o "$bin.part" "${base}/${name}"; then
      rm -f "$bin.part"
      fail "Binary download failed" "Could not download ${name} of prism-wait ${version} from ${base}. Re-run the job; if it persists, check that the release exists."
    fi
    got=$(sum "$bin.part")
    if [ "$got" != "$want" ]; then
      rm -f "$bin.part"
      fail "Binary checksum mismatch" "${name} of prism-wait ${version} has SHA-256 ${got}, but this action pins ${want}: the download is not the released binary, so it was not run. Re-run the job; if it persists, report it."
    fi
    mv "$bin.part" "$bin"
  fi
  chmod +x "$bin"
fi

# The results JSON (stdout) holds the presigned video URLs: keep it out of
# the log; the same values are in the step's outputs.
"$bin" > "$tmp/prism-wait-results.json"
