#!/usr/bin/env bash
# bench-upgrade.sh: downtime (first container stopped -> all healthy) of `docker maim upgrade`
# with its default two-pass backup, where 1% of the data changes while pass one copies it,
# beside, in the same run on the same data:
#   - `docker compose pull && docker compose up -d` with no backup at all (the reference),
#   - `docker maim upgrade --one-pass` (everything archived after the stop),
#   - by hand: `docker stop; tar -C VOL -cf - . | zstd -T0 -1 > F; sync; docker start`.
# One table, each downtime with its ratio to the no-backup reference. Target (issue 12): the
# two-pass upgrade's downtime at most 2x the no-backup one.
# Sizes: MAIM_BENCH_UPGRADE_MB, a space-separated list (default "780 8192"; a size that does
# not fit three times in the free space of /var/lib/docker is skipped and said so). The data
# is many files (~20k: 40% random, 60% log text), generated straight into the volume's
# mountpoint (the bench runs as root on the engine's host); the tools under test go through
# the engine as users' would. The 1% is rewritten from here once pass one has begun (the
# upgrade's backup directory exists; for --one-pass before the upgrade): 1% of the files
# rewritten in place, as a service rewrites what it changes. What each upgrade's backup
# archived while stopped is printed (stderr) before the table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REG=${MAIM_TEST_REGISTRY:-127.0.0.1:5001}
SIZES=${MAIM_BENCH_UPGRADE_MB:-780 8192}
FILES=${MAIM_BENCH_UPGRADE_FILES:-20000}
proj=maimbench-up-$$
repo=$REG/$proj-bot
work=$(mktemp -d /tmp/maim-bench-up.XXXXXX)
export MAIM_BACKUP_DIR=$work/backups
cleanup() {
  (cd "$work/p" 2>/dev/null && docker compose down -v --remove-orphans >/dev/null 2>&1) || true
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^($repo:|docker-maim/pin:$proj\.)" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
# MAIM_PLUGIN=PATH: run that docker-maim build (in a private DOCKER_CONFIG) instead of the
# installed plugin.
if [ -n "${MAIM_PLUGIN:-}" ]; then
  mkdir -p "$work/dc/cli-plugins"
  cp "$MAIM_PLUGIN" "$work/dc/cli-plugins/docker-maim"
  for c in "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose; do
    [ -x "$c" ] && { ln -s "$c" "$work/dc/cli-plugins/docker-compose"; break; }
  done
  export DOCKER_CONFIG=$work/dc
fi
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
wait_healthy() {
  local id
  for _ in $(seq 1 2400); do
    id=$(docker compose ps -q bot 2>/dev/null || true)
    if [ -n "$id" ] && [ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ]; then return 0; fi
    sleep 0.05
  done
  echo "bench: bot never became healthy" >&2; return 1
}
# change_1pct [wait] rewrites 1% of the files (every 100th), keeping their sizes; with wait,
# once pass one has begun (the upgrade's backup dir appears).
change_1pct() {
  local mp=$1
  if [ "${2:-}" = wait ]; then
    for _ in $(seq 1 6000); do
      compgen -G "$MAIM_BACKUP_DIR/$proj/*" >/dev/null && break
      sleep 0.01
    done
  fi
  python3 - "$mp" <<'PY'
import os, sys
root = sys.argv[1]
names = sorted(os.listdir(os.path.join(root, "d")))
for n in names[::100]:
    p = os.path.join(root, "d", n)
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.write(os.urandom(min(size, 1 << 20)))
PY
}
# generate MB FILES DIR: FILES files totalling MB MiB below DIR/d, 40% random, 60% log text.
generate() {
  python3 - "$@" <<'PY'
import os, sys
mb, files, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
d = os.path.join(root, "d"); os.makedirs(d, exist_ok=True)
per = mb * (1 << 20) // files
line = b"2026-11-25T12:00:00.123Z INFO [chat] group=123456 user=654321 handled message len=42 reply=ok\n"
text = (line * (per // len(line) + 1))[:per]
for i in range(files):
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(os.urandom(per) if i % 5 < 2 else text)
PY
}

bash scripts/bot-images.sh "$repo" 1.0.0 1.1.0 >/dev/null
mkdir -p "$work/p" && cd "$work/p"
cat >compose.yaml <<YML
name: $proj
services:
  bot:
    image: $repo:\${BOT_VERSION:-1.0.0}
    volumes: [botdata:/bot/data, ./config:/bot/config]
volumes: {botdata: {}}
YML
echo BOT_VERSION=1.0.0 >.env
docker compose up -d --quiet-pull >/dev/null 2>&1
wait_healthy
mp=$(docker volume inspect -f '{{.Mountpoint}}' "${proj}_botdata")
back_to_v1() { echo BOT_VERSION=1.0.0 >.env; docker compose up -d >/dev/null 2>&1; wait_healthy; rm -rf "${MAIM_BACKUP_DIR:?}/$proj"; }
maim_upgrade() { # prints the downtime the upgrade reports (and what its backup archived stopped, on stderr)
  local out ch=
  echo BOT_VERSION=1.1.0 >.env
  if [ "${1:-}" = --one-pass ]; then
    change_1pct "$mp" # one pass: the service's changes come before the stop
  else
    change_1pct "$mp" wait & ch=$!
  fi
  out=$(docker maim upgrade --progress quiet "$@")
  [ -z "$ch" ] || wait "$ch" || true
  python3 - "$MAIM_BACKUP_DIR/$proj" <<'PY' >&2
import glob, json, sys
for m in glob.glob(sys.argv[1] + "/*/manifest.json"):
    srcs = json.load(open(m))["sources"]
    full = sum(s["bytes"] for s in srcs)
    stopped = sum(s["delta"]["bytes"] if s.get("delta") else s["bytes"] for s in srcs)
    print("  archived stopped: %.1f MB of %.1f MB (%s)" % (stopped / 1e6, full / 1e6, "two-pass" if any(s.get("delta") for s in srcs) else "one pass"))
PY
  sed -n 's/.*downtime \([0-9.]*\)s.*/\1/p' <<<"$out" | grep . || { echo "$out" >&2; echo "bench: no downtime in upgrade output" >&2; return 1; }
}

declare -a ROWS=()
row() { ROWS+=("$(printf '%-8s %-56s %9.2f s %7.2fx' "$1" "$2" "$3" "$(echo "$3 / $4" | bc -l)")"); }
status=0
for size in $SIZES; do
  free=$(df -Pm /var/lib/docker | awk 'NR==2{print $4}')
  if [ "$free" -lt $((size * 3)) ]; then
    echo "bench: $size MB skipped: $free MB free in /var/lib/docker, need $((size * 3)) MB" >&2
    continue
  fi
  rm -rf "${mp:?}/d"
  generate "$size" "$FILES" "$mp"
  sync
  echo "generated $(du -sh "$mp" | cut -f1) in $FILES files in the project's volume" >&2

  # (a) docker compose pull && up -d, no backup: 1.0.0 -> 1.1.0
  echo BOT_VERSION=1.1.0 >.env
  docker compose pull -q >/dev/null 2>&1
  t0=$(now); docker compose up -d >/dev/null 2>&1; wait_healthy; ref=$(since "$t0")
  back_to_v1

  # (b) by hand: docker stop; tar | zstd; sync; docker start
  id=$(docker compose ps -q bot)
  t0=$(now)
  docker stop "$id" >/dev/null
  tar -C "$mp" -cf - . | zstd -q -T0 -1 >"$work/hand.tar.zst"; sync
  docker start "$id" >/dev/null; wait_healthy
  hand=$(since "$t0"); rm -f "$work/hand.tar.zst"

  # (c) docker maim upgrade, one pass (the 1% changes before it)
  one=$(maim_upgrade --one-pass); back_to_v1
  # (d) docker maim upgrade, two passes (the default)
  two=$(maim_upgrade); back_to_v1

  row "$size MB" "docker compose pull && up -d (no backup)" "$ref" "$ref"
  row "" "docker stop; tar | zstd -T0 -1; sync; docker start" "$hand" "$ref"
  row "" "docker maim upgrade --one-pass" "$one" "$ref"
  row "" "docker maim upgrade (two-pass, 1% changed in pass one)" "$two" "$ref"
  if [ "$(echo "$two <= 2 * $ref" | bc)" = 1 ]; then ROWS+=("         PASS upgrade downtime: two-pass <= 2x no backup"); else ROWS+=("         FAIL upgrade downtime: two-pass > 2x no backup"); status=1; fi
done
printf '\nUpgrade downtime (first container stopped -> all healthy), ratio to no backup\n'
printf '%s\n' "${ROWS[@]}"
printf 'load average after the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
