#!/usr/bin/env bash
# bench_incremental.sh: `make bench` part "incremental" (issue 23, "Backups that reuse the
# last one"). A volume of BENCH_INCR_GB GB (default 2; BENCH_INCR_GB=20 for the issue's
# size) of incompressible 1 MiB files in directories of 100 is backed up three times by
# docker-maim built from this tree:
#   1. the first backup (full);
#   2. a second one of the same data, unchanged;
#   3. a third after 1% of the files were rewritten with new content.
# Targets: the second takes <= 10% of the first's time and <= 1% of its space; the third's
# space is about the 1% rewritten plus metadata (<= 1.05 x the rewritten bytes + 4 MiB);
# each backup's peak RSS (the docker CLI or docker-maim, GNU time's %M) < 100 MiB.
# Space is what each backup's own directory holds (`backups --format json`: `size`).
# The project's one service is created, never started: nothing is stopped, each backup is
# one pass (incremental from the last backup's index); the data is read through the helper
# container or the host path, whichever docker-maim takes.
#
# Environment:
#   BENCH_INCR_GB=N     volume size in GB (default 2)
#   BENCH_DATA_DIR=...  where the work dir (backups) goes (default: $TMPDIR or /tmp)
#   BENCH_KEEP=1        keep the work dir and print its path
#   MAIM_NO_HOST_PATH=1 read the volume through the helper container, not the host path
#
# Exit status: 0 when every target passes, 1 when one fails, 2 on a setup error. Everything
# it creates (project, volume, image, work dir) is removed on exit, also on failure.
set -euo pipefail

cd "$(dirname "$0")/.."
GB=${BENCH_INCR_GB:-2}
ID="maimincr$(date +%s)$$"
WORK=$(mktemp -d "${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}/maim-bench-incr.XXXXXX")
LABEL="com.docker-maim.bench=$ID"
IMAGE="maim-bench-incr:$ID"
VOL="${ID}_data"
PROJ="$WORK/project"

log() { printf 'bench_incremental: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

# shellcheck source=scripts/bench_lib.sh
. scripts/bench_lib.sh
cleanup() {
  if [ -f "$PROJ/compose.yaml" ]; then
    docker compose -f "$PROJ/compose.yaml" down --volumes --remove-orphans >/dev/null 2>&1
  fi
  local ids
  ids=$( (docker ps -aq --filter "label=$LABEL"; docker ps -aq --filter "volume=$VOL") 2>/dev/null | sort -u)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  docker volume rm -f "$VOL" >/dev/null 2>&1
  docker image rm -f "$IMAGE" >/dev/null 2>&1
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
bench_cleanup_on_exit cleanup

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine (run make rig)"
docker compose version >/dev/null 2>&1 || die "no docker compose (run make rig)"
command -v jq >/dev/null || die "jq is needed"

# docker-maim from this tree, as a plugin of a docker config of its own (the installed one
# is left alone).
mkdir -p "$PROJ" "$WORK/backups" "$WORK/state"
bench_plugin_config "$WORK/docker" || die "building docker-maim failed (make helpers first)"
MAIM=(env DOCKER_CONFIG="$WORK/docker" MAIM_STATE_DIR="$WORK/state" docker maim -f "$PROJ/compose.yaml" --backup-dir "$WORK/backups" --progress quiet)

# A 0-byte image (imported from an empty tar): the service is only created.
tar -cf - -T /dev/null | docker import -c 'CMD ["/none"]' -c "LABEL $LABEL" - "$IMAGE" >/dev/null || die "docker import failed"
cat >"$PROJ/compose.yaml" <<EOF
name: $ID
services:
  app:
    image: $IMAGE
    pull_policy: never
    labels: ["$LABEL"]
    volumes: ["data:/data"]
volumes:
  data: {}
EOF
docker compose -f "$PROJ/compose.yaml" up --no-start >/dev/null 2>&1 || die "docker compose up --no-start failed"
MP=$(docker volume inspect -f '{{.Mountpoint}}' "$VOL")
[ -w "$MP" ] || die "the volume mountpoint $MP is not writable here (run as root on the engine host)"

FILES=$((GB * 1024))
log "writing $GB GB ($FILES files of 1 MiB, random) into $VOL"
for ((i = 0; i < FILES; i++)); do
  d="$MP/d$((i / 100))"
  [ -d "$d" ] || mkdir "$d"
  head -c 1048576 /dev/urandom >"$d/f$i"
done
sync
# A file written within the ctime margin (2 s, to the second) of a backup's start counts as
# changed: let the clock move past it, as it has for data at rest.
sleep 4

# run ARGS...: one backup; prints seconds, the backup's own size, its ID and the peak RSS
# (KiB) of the docker CLI and docker-maim, the larger (GNU time's %M over the waited tree).
run() {
  local t0 t1 out id size rss
  t0=$(date +%s.%N)
  out=$(/usr/bin/time -f '%M' -o "$WORK/rss" "${MAIM[@]}" backup --format json "$@") || { log "backup failed: $out"; exit 1; }
  t1=$(date +%s.%N)
  rss=$(tail -1 "$WORK/rss")
  id=$(jq -r .id <<<"$out")
  size=$("${MAIM[@]}" backups --format json | jq --arg id "$id" '.backups[] | select(.id == $id) | .size')
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}') $size $id $rss"
}

[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed"
read -r T1 S1 ID1 R1 < <(run)
read -r T2 S2 ID2 R2 < <(run)
CHANGED=$((FILES / 100))
[ "$CHANGED" -gt 0 ] || CHANGED=1
for ((i = 0; i < CHANGED; i++)); do
  n=$((i * 100 + 37 % 100))
  [ "$n" -lt "$FILES" ] || n=$i
  head -c 1048576 /dev/urandom >"$MP/d$((n / 100))/f$n"
done
sync
CHANGED_BYTES=$((CHANGED * 1048576))
read -r T3 S3 ID3 R3 < <(run)
"${MAIM[@]}" verify "$ID3" >/dev/null || { log "verify $ID3 (the chain of the third backup) failed"; exit 1; }

STATUS=0
row() { # row PASS FIGURE VALUE TARGET
  local v=PASS
  [ "$1" = 1 ] || { v=FAIL; STATUS=1; }
  printf '%-4s  %-46s %-26s %s\n' "$v" "$2" "$3" "$4"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "inf"; else printf "%.4f", a / b }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN{ print (a <= b) ? 1 : 0 }'; }
mib() { awk -v a="$1" 'BEGIN{ printf "%.3f MiB", a / 1048576 }'; }

echo "incremental backups of $GB GB ($FILES files), machine shared with other work: figures are indicative"
printf '%-4s  %-46s %-26s %s\n' "" "figure" "value" "target"
row 1 "first backup (full): time" "${T1} s" "-"
row 1 "first backup (full): space" "$(mib "$S1")" "-"
row "$(le "$T2" "$(awk -v t="$T1" 'BEGIN{print t * 0.10}')")" "second backup, unchanged: time" "${T2} s ($(ratio "$T2" "$T1") x)" "<= 0.10 x first"
row "$(le "$S2" "$(awk -v s="$S1" 'BEGIN{print s * 0.01}')")" "second backup, unchanged: space" "$(mib "$S2") ($(ratio "$S2" "$S1") x)" "<= 0.01 x first"
row "$(le "$S3" "$(awk -v c="$CHANGED_BYTES" 'BEGIN{print c * 1.05 + 4 * 1048576}')")" "third backup, 1% rewritten: space" "$(mib "$S3")" "<= 1.05 x $(mib "$CHANGED_BYTES") + 4 MiB"
row "$(le "$CHANGED_BYTES" "$S3")" "third backup holds the rewritten bytes" "$(mib "$S3")" ">= $(mib "$CHANGED_BYTES")"
row 1 "third backup: time" "${T3} s ($(ratio "$T3" "$T1") x)" "-"
for r in "first:$R1" "second:$R2" "third:$R3"; do
  kib=${r#*:}
  row "$(le "$kib" $((100 * 1024 - 1)))" "${r%%:*} backup: peak RSS (CLI or plugin)" "$(awk -v k="$kib" 'BEGIN{printf "%.1f MiB", k / 1024}')" "< 100 MiB"
done
exit "$STATUS"
