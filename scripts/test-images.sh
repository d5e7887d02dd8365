#!/usr/bin/env bash
# test-images.sh: the images a test run made are removed when it ends.
#
#   scripts/test-images.sh snapshot   record the IDs of every image there is now
#   scripts/test-images.sh clean      remove the images made since the snapshot: the stand-in
#                                     bot images (built, pushed, pulled again by the tests),
#                                     the helper and empty images docker-maim imported, and
#                                     untagged ones; an image that was there before is kept
#
# State: $MAIM_RIG_DIR/images-before (default /tmp/maim-rig). `make test` takes the snapshot
# first and cleans on exit, also when a test fails.
set -euo pipefail
RIG_DIR=${MAIM_RIG_DIR:-/tmp/maim-rig}
SNAP=$RIG_DIR/images-before
mkdir -p "$RIG_DIR"

case "${1:-}" in
snapshot)
  docker images -q --no-trunc | sort -u >"$SNAP"
  ;;
clean)
  [ -f "$SNAP" ] || { echo "test-images: no snapshot ($SNAP): nothing removed" >&2; exit 0; }
  # Ours: repositories the tests and docker-maim make, and untagged images.
  made=$(docker images --no-trunc --format '{{.ID}} {{.Repository}}' |
    awk '$2 ~ /(^|\/)maim-standin-bot-|^docker-maim-helper$|^docker-maim-empty$|^<none>$/ {print $1}' |
    sort -u | comm -23 - "$SNAP")
  # An untagged parent goes only after its children: a few rounds.
  n=0
  for _ in 1 2 3; do
    left=
    for id in $made; do
      if docker image rm -f "$id" >/dev/null 2>&1; then n=$((n + 1)); else left="$left $id"; fi
    done
    made=$left
    [ -z "$made" ] && break
  done
  for id in $made; do
    docker image inspect "$id" >/dev/null 2>&1 && echo "test-images: could not remove $id" >&2
  done
  echo "test-images: removed $n image(s) the tests made"
  rm -f "$SNAP"
  ;;
*)
  echo "usage: $0 snapshot|clean" >&2
  exit 2
  ;;
esac
