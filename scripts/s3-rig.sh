#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (the S3-compatible server the tests of internal/backup/s3 start
# on loopback, internal/testrig/s3.go) from the Go module proxy, once per version: the binary
# is cached under ${XDG_CACHE_HOME:-~/.cache}/docker-maim/weed/<version>/weed and reused.
# Only the Go module proxy is needed (no git, no C compiler: CGO_ENABLED=0). Prints the
# binary's path as its last line. Idempotent.
set -euo pipefail
MODULE=github.com/seaweedfs/seaweedfs
VERSION=${WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
GO=${GO:-go}
export GOTOOLCHAIN=local CGO_ENABLED=0
dir="${XDG_CACHE_HOME:-$HOME/.cache}/docker-maim/weed/$VERSION"
bin="$dir/weed"
if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "s3-rig: weed $VERSION is cached"
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "s3-rig: building weed ($MODULE@$VERSION) from the Go module proxy; the first build takes minutes" >&2
# `go install module@version` refuses a module with replace directives (seaweedfs has one),
# so its source is taken from the module cache and built as the main module, with its own
# go.mod and go.sum: the same dependency versions its release builds use.
src=$("$GO" mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "s3-rig: $MODULE@$VERSION: not in the module cache after download" >&2; exit 2; }
cp -r "$src" "$tmp/src"
chmod -R u+w "$tmp/src"
mkdir -p "$tmp/bin"
# -dwarf=false: the compiler writes no debug information, which -ldflags -w would drop at the
# link anyway (same size, same code: internal/backup/s3's tests and the remote e2e tests pass
# on it); it saves 13-22% of the compiler's CPU time on an empty build cache, as on a fresh
# machine (std built twice each way: 65 -> 51 s and 59 -> 52 s user+sys).
start=$(date +%s)
(cd "$tmp/src" && "$GO" build -trimpath -gcflags=all=-dwarf=false -ldflags "-s -w" -o "$tmp/bin/weed" ./weed)
install -m 0755 "$tmp/bin/weed" "$bin.new"
mv "$bin.new" "$bin"
echo "s3-rig: weed $VERSION built in $(($(date +%s) - start)) s"
echo "$bin"
