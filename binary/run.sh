#!/usr/bin/env bash
# Runs prism-wait on any runner: the released binary for this runner's OS
# and architecture, checked against the SHA-256 sum pinned in SHA256SUMS
# beside this script. action.yml passes the inputs as INPUT_*, as the
# runner passes them to the Docker action, so the binary behaves as the
# action does there: messages name inputs, outputs, summary and
# annotations go where the runner reads them. Bash is there on every
# hosted runner (Git Bash on Windows).
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
  list=$(tr -d '\r' < "$here/SHA256SUMS" | sed -n 's/^[0-9a-fA-F]\{64\}  *\*\{0,1\}prism-wait_\([a-z0-9]*\)_\([a-z0-9]*\)\(\.exe\)\{0,1\}$/\1\/\2/p' | sort -u | tr '\n' ' ')
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
    fail "No release pinned" "This is prism-wait/binary from a branch, where no release is pinned (binary/VERSION is empty). Use a release, e.g. uses: <owner>/prism-wait/binary@v1 with this action's owner, or install Go first (actions/setup-go) to build it from source."
  fi
  bin="$tmp/prism-wait-source/prism-wait$ext"
  echo "No release pinned: building prism-wait from source with $(go version)"
  if ! (cd "$here/.." && CGO_ENABLED=0 go build -trimpath -o "$bin" .); then
    fail "Build from source failed" "No release is pinned on this branch (binary/VERSION is empty), and building prism-wait with $(go version) failed (above). Use a release, e.g. uses: <owner>/prism-wait/binary@v1 with this action's owner, or a Go that go.mod allows (actions/setup-go with go-version-file: go.mod)."
  fi
else
  if [ -z "$os" ] || [ -z "$arch" ]; then
    fail "Unsupported runner" "prism-wait ${version} has no binary for this runner (RUNNER_OS=${RUNNER_OS:-unset}, RUNNER_ARCH=${RUNNER_ARCH:-unset}). Platforms in this release: $(platforms)"
  fi
  name="prism-wait_${os}_${arch}${ext}"
  # sha256sum format; CRLF line ends and upper-case hex read the same.
  want=$(tr -d '\r' < "$here/SHA256SUMS" | awk -v n="$name" '$2 == n || $2 == "*" n { print tolower($1); exit }')
  if [ -z "$want" ]; then
    fail "Unsupported runner" "prism-wait ${version} has no pinned binary for ${os}/${arch}. Platforms in this release: $(platforms)"
  fi
  if ! [[ "$want" =~ ^[0-9a-f]{64}$ ]]; then
    fail "Broken pin" "binary/SHA256SUMS of prism-wait ${version} pins no SHA-256 for ${name} (64 hex digits), so nothing was downloaded or run. Use another release, and report it."
  fi
  # The release commit names where its releases are (its own repository,
  # on its own GitHub server), in RELEASES beside VERSION.
  releases=$( (tr -d '[:space:]' < "$here/RELEASES") 2>/dev/null || true)
  base="${PRISM_WAIT_RELEASE_BASE:-${releases:-https://github.com/prism-wait/prism-wait/releases/download}/${version}}"
  dir="$tmp/prism-wait-${version}"
  bin="$dir/$name"
  sum() { # from stdin: with a backslash in the path (Windows), sha256sum would prefix the sum with one
    if command -v sha256sum > /dev/null; then sha256sum < "$1"; else shasum -a 256 < "$1"; fi | awk '{ print tolower($1) }'
  }
  if [ ! -f "$bin" ] || [ "$(sum "$bin")" != "$want" ]; then
    mkdir -p "$dir"
    rm -f "$bin.part"
    # Bounded: a stalled or endless download must not hold the job. Each
    # try gets 2 minutes, and none starts after 2 minutes: 4 at most.
    if ! curl -fsSL --retry 3 --retry-max-time 120 --connect-timeout 20 --max-time 120 --speed-limit 1024 --speed-time 30 \
        --max-filesize 209715200 -o "$bin.part" "${base}/${name}"; then
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

# exec: a cancel's SIGINT reaches the binary, which writes the outputs and
# exits 3; a child would be left running when its shell is killed.
exec "$bin"
