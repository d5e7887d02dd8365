#!/usr/bin/env bash
# bench_rollback.sh: the way back's downtime (issue 23). A project whose volume holds
# BENCH_ROLLBACK_GB GB (default 2; 20 for the big case) in BENCH_ROLLBACK_FILES files (default
# 10000: 40% random, 60% log text) is upgraded by `docker maim upgrade` to a new tag of the
# stand-in bot (FROM scratch images built and pushed to the loopback registry by
# scripts/bot-images.sh, as the e2e harness does); the new version then rewrites 1% of the
# files (every 100th, in place, same size). Measured side by side in one run, each as the
# span from the service's `die` to its next `start` in `docker events` (never wall time of
# the commands):
#   - `docker maim rollback` (the last upgrade's backup; its safety backup two-pass),
#   - `docker compose up -d` on the old tag with no data restored (the reference),
#   - `docker maim restore ID` of a second upgrade's backup after the same 1% change.
# Targets: each ratio to the reference <= 2x; peak RSS of the docker-maim process < 100 MiB
# (test/bench run: VmHWM sampled from /proc). Printed beside them: what each phase took
# (from the `--progress json` lines: the first line of a phase to the first of the next),
# so that what remains of the downtime is named.
#
# Each is the median of BENCH_ROLLBACK_ROUNDS rounds (default 3), every round's figures printed
# too.
# Environment: BENCH_ROLLBACK_GB, BENCH_ROLLBACK_FILES, BENCH_ROLLBACK_ROUNDS,
# BENCH_ROLLBACK_TRACE (set: print every container event of the last round's way back, in
# seconds from the die), BENCH_ROLLBACK_SETTLE (seconds between
# the 1% change and the way back, default 5), MAIM_TEST_REGISTRY (default
# 127.0.0.1:5001), MAIM_PLUGIN=PATH (run that docker-maim build in a private DOCKER_CONFIG),
# BENCH_DATA_DIR (the work dir's parent: backups go there; default /tmp).
# Exit status: 0 every target met, 1 one missed, 2 setup error. Everything made (project,
# volume, images, pins, work dir) is removed on exit, also on failure and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REG=${MAIM_TEST_REGISTRY:-127.0.0.1:5001}
GB=${BENCH_ROLLBACK_GB:-2}
FILES=${BENCH_ROLLBACK_FILES:-10000}
proj=maimbench-rb-$$
repo=$REG/$proj-bot
work=$(mktemp -d "${BENCH_DATA_DIR:-/tmp}/maim-bench-rb.XXXXXX")
export MAIM_BACKUP_DIR=$work/backups
# shellcheck source=scripts/bench_lib.sh
. "$ROOT/scripts/bench_lib.sh"
cleanup() {
  (cd "$work/p" 2>/dev/null && docker compose down -v --remove-orphans >/dev/null 2>&1)
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^($repo:|docker-maim/pin:$proj\.)" | xargs -r docker rmi -f >/dev/null 2>&1
  rm -rf "$work"
}
bench_cleanup_on_exit cleanup
die() { echo "bench_rollback: $*" >&2; exit 2; }

if [ -n "${MAIM_PLUGIN:-}" ]; then
  bench_plugin_config "$work/dc" "$MAIM_PLUGIN" || die "copying $MAIM_PLUGIN"
  export DOCKER_CONFIG=$work/dc
fi
docker maim version >/dev/null 2>&1 || die "no docker maim plugin (set MAIM_PLUGIN=PATH)"
free=$(df -Pm /var/lib/docker | awk 'NR==2{print $4}')
need=$((GB * 1024 * 3))
[ "$free" -ge "$need" ] || die "$GB GB needs about $need MB free in /var/lib/docker (data, two upgrade backups, safety backups), $free MB free"
GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$work/bench" ./test/bench || die "building test/bench"
bash scripts/bot-images.sh "$repo" 1.0.0 1.1.0 >/dev/null || die "building the bot images"

now() { date +%s.%N; }
wait_healthy() {
  local id
  for _ in $(seq 1 2400); do
    id=$(docker compose ps -q bot 2>/dev/null || true)
    if [ -n "$id" ] && [ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ]; then return 0; fi
    sleep 0.05
  done
  echo "bench_rollback: the bot never became healthy" >&2
  return 1
}
# generate GB FILES DIR: FILES files totalling GB GiB below DIR/d.
generate() {
  python3 - "$@" <<'PY'
import os, sys
gb, files, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
d = os.path.join(root, "d"); os.makedirs(d, exist_ok=True)
per = gb * (1 << 30) // files
line = b"2026-12-07T12:00:00.123Z INFO [chat] group=123456 user=654321 handled message len=42 reply=ok\n"
text = (line * (per // len(line) + 1))[:per]
for i in range(files):
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(os.urandom(per) if i % 5 < 2 else text)
PY
}
# rewrite_1pct DIR: what the new version does to the data: every 100th file rewritten.
rewrite_1pct() {
  python3 - "$1" <<'PY'
import os, sys
d = os.path.join(sys.argv[1], "d")
for n in sorted(os.listdir(d))[::100]:
    p = os.path.join(d, n)
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.write(os.urandom(size))
PY
}
# downtime SINCE UNTIL: seconds from the bot's first `die` to the next `start` of a bot
# container, from the engine's events, then the die's and the start's times (ns).
downtime() {
  docker events --since "$1" --until "$2" --filter type=container --filter "label=com.docker.compose.project=$proj" \
    --format '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "com.docker.compose.service"}} {{index .Actor.Attributes "com.docker.compose.oneoff"}}' |
    awk '$3 == "bot" && $4 != "True" { if (!d && $2 == "die") d = $1; else if (d && $2 == "start") { printf "%.3f %s %s\n", ($1 - d) / 1e9, d, $1; exit } }'
}
# split FILE DIE START: the downtime cut at the restore phase's first and last progress
# lines (FILE): stopped until the restore began (the stop, the safety backup's pass two),
# the restore, and from its end to the start.
split() {
  python3 - "$@" <<'PY'
import json, sys
from datetime import datetime
f, die, start = sys.argv[1], int(sys.argv[2]) / 1e9, int(sys.argv[3]) / 1e9
first = last = None
for l in open(f):
    try:
        j = json.loads(l)
    except ValueError:
        continue
    if j.get("phase") != "restore":
        continue
    t = datetime.fromisoformat(j["time"].replace("Z", "+00:00")).timestamp()
    first = t if first is None else first
    last = t
if first is None:
    print("no progress line in the restore phase")
else:
    print("stopped -> restore begins %.2fs (stop, safety pass two) | restore %.2fs | restore done -> start %.2fs" % (first - die, last - first, start - last))
PY
}
# phases FILE: how long each step of the progress lines in FILE took.
phases() {
  python3 - "$1" <<'PY'
import json, sys
from datetime import datetime
seen = []
for l in open(sys.argv[1]):
    try:
        j = json.loads(l)
    except ValueError:
        continue
    ph = j.get("phase")
    if not ph:
        continue
    t = datetime.fromisoformat(j["time"].replace("Z", "+00:00")).timestamp()
    if not seen or seen[-1][0] != ph:
        seen.append([ph, t, t])
    seen[-1][2] = t
out = []
for i, (ph, t0, t1) in enumerate(seen):
    end = seen[i + 1][1] if i + 1 < len(seen) else t1
    out.append("%s %.2fs" % (ph, end - t0))
print(" | ".join(out))
PY
}
# measure NAME CMD...: runs CMD under test/bench (peak RSS) with --progress json, then
# prints the downtime from the events; progress in $work/NAME.progress, RSS in $work/NAME.mem.
measure() {
  local name=$1 t0 t1
  shift
  t0=$(now)
  "$work/bench" run "${proj}_botdata" "$work/$name.mem" -- "$@" >"$work/$name.out" 2>"$work/$name.progress" ||
    { cat "$work/$name.out" "$work/$name.progress" >&2; echo "bench_rollback: $name failed" >&2; return 1; }
  wait_healthy
  t1=$(now)
  downtime "$t0" "$t1" >"$work/$name.down"
  [ -z "${BENCH_ROLLBACK_TRACE:-}" ] || trace "$t0" "$t1" "$(cut -d' ' -f2 "$work/$name.down")" >"$work/$name.trace"
  cut -d' ' -f1 "$work/$name.down"
}
# trace SINCE UNTIL DIE: every container event of the window (the project's and the helpers'),
# in seconds from the bot's die (BENCH_ROLLBACK_TRACE=1 prints them: where the downtime goes).
trace() {
  docker events --since "$1" --until "$2" --filter type=container \
    --format '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "com.docker.compose.service"}}{{index .Actor.Attributes "com.docker-maim.helper.target"}} {{.Actor.ID}}' |
    awk -v d="$3" '$2 !~ /^exec_/ { printf "    %+.3f %s %s %s\n", ($1 - d) / 1e9, $2, $3, substr($4, 1, 8) }'
}
mib() { sed -n 's/.*plugin_kib=\([0-9]*\).*/\1/p' "$work/$1.mem" | awk '{printf "%.1f", $1 / 1024}'; }
safety_line() { # what the safety backup of the last rollback archived stopped
  python3 - "$MAIM_BACKUP_DIR/$proj" "$1" <<'PY'
import glob, json, sys
last = None
for m in sorted(glob.glob(sys.argv[1] + "/*/manifest.json")):
    j = json.load(open(m))
    if j.get("reason") == sys.argv[2]:
        last = j
if last:
    j = last
    srcs = j["sources"]
    full = sum(s["bytes"] for s in srcs)
    stopped = sum(s["delta"]["bytes"] if s.get("delta") else s["bytes"] for s in srcs)
    print("safety backup (%s): %.1f MB archived stopped of %.1f MB (%s)" % (j["reason"], stopped / 1e6, full / 1e6, "two-pass" if any(s.get("delta") for s in srcs) else "one pass"))
PY
}

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
docker compose up -d --quiet-pull >/dev/null 2>&1 || die "compose up"
wait_healthy || die "the bot never became healthy"
mp=$(docker volume inspect -f '{{.Mountpoint}}' "${proj}_botdata")
generate "$GB" "$FILES" "$mp" || die "generating the data"
sync
echo "generated $(du -sh "$mp" | cut -f1) in $FILES files in the project's volume" >&2
maim_upgrade() {
  echo BOT_VERSION=1.1.0 >.env
  docker maim upgrade --progress quiet --stable-period 1s >"$work/upgrade.out" 2>&1 || { cat "$work/upgrade.out" >&2; die "upgrade failed"; }
  wait_healthy
  rewrite_1pct "$mp"
  sync
  # The new version's writes are older than pass one's clock margin (its start to the
  # second, less 2 s) when someone goes back; a write within it is archived again after
  # the stop (exact, slower: BENCH_ROLLBACK_SETTLE=0 measures that case).
  sleep "${BENCH_ROLLBACK_SETTLE:-5}"
}

# One round: (1) upgrade, 1% rewritten by the new version, rollback; (2) the reference: on
# the new tag again (no maim), then compose up -d on the old one; (3) upgrade again, 1%
# rewritten, restore of that upgrade's backup. Each round's three downtimes are appended to
# rb_all, ref_all and rs_all; the verdicts take each one's median over the rounds
# (BENCH_ROLLBACK_ROUNDS, default 3): one die -> start is a few hundred milliseconds, and a
# single one moves by a third with what else the two cores do. Each round's upgrades check
# room for a full backup (the plan cannot yet tell how small an increment will be): at
# 20 GB on a disk of about 60 GB free, run one round at a time.
rb_all= ref_all= rs_all=
round() {
  local r=$1 rb ref rs id
  # Every round starts where the first does: the old tag running (a restore leaves the tag
  # its backup's files name).
  echo BOT_VERSION=1.0.0 >.env
  docker compose up -d >/dev/null 2>&1 && wait_healthy || die "compose up 1.0.0"
  maim_upgrade
  rb=$(measure "rollback$r" docker maim --progress json rollback --stable-period 1s) || exit 1
  rb_safety=$(safety_line pre-rollback)

  echo BOT_VERSION=1.1.0 >.env
  docker compose up -d >/dev/null 2>&1 && wait_healthy || die "compose up 1.1.0"
  echo BOT_VERSION=1.0.0 >.env
  t0=$(now)
  docker compose up -d >/dev/null 2>&1
  wait_healthy
  ref=$(downtime "$t0" "$(now)" | cut -d' ' -f1)

  maim_upgrade
  id=$(docker maim backups --format json | python3 -c 'import json,sys; print([b["id"] for b in json.load(sys.stdin)["backups"] if b.get("reason") == "upgrade"][0])')
  rs=$(measure "restore$r" docker maim --progress json restore "$id" --stable-period 1s) || exit 1
  rs_safety=$(safety_line pre-restore)
  rb_all="$rb_all $rb" ref_all="$ref_all $ref" rs_all="$rs_all $rs"
  echo "round $r: compose up -d $ref s, rollback $rb s, restore $rs s" >&2
}
rounds=${BENCH_ROLLBACK_ROUNDS:-3}
for r in $(seq 1 "$rounds"); do round "$r"; done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# shellcheck disable=SC2086
rb=$(median $rb_all) ref=$(median $ref_all) rs=$(median $rs_all)

status=0
verdict() { if [ "$1" = 1 ]; then echo "  PASS $2"; else echo "  FAIL $2"; status=1; fi; }
ratio() { echo "$1 / $2" | bc -l | awk '{printf "%.2f", $1}'; }
printf '\nThe way back after the new version rewrote 1%% of %s GB (%s files): downtime = the bot'"'"'s die -> start in docker events,\nmedian of %s rounds (each round: rollback, compose up -d, restore)\n' "$GB" "$FILES" "$rounds"
printf '  %-58s %8.2f s  %6sx\n' "docker compose up -d on the old tag (no data restored)" "$ref" 1.00
printf '  %-58s %8.2f s  %6sx\n' "docker maim rollback" "$rb" "$(ratio "$rb" "$ref")"
printf '  %-58s %8.2f s  %6sx\n' "docker maim restore (the upgrade's backup)" "$rs" "$(ratio "$rs" "$ref")"
verdict "$(echo "$rb <= 2 * $ref" | bc)" "rollback downtime <= 2x compose up -d on the old tag"
verdict "$(echo "$rs <= 2 * $ref" | bc)" "restore downtime <= 2x compose up -d on the old tag"
printf '  %-58s %s\n' "every round (compose up -d | rollback | restore), s:" "$ref_all |$rb_all |$rs_all"
for n in rollback restore; do
  peak=$(for r in $(seq 1 "$rounds"); do mib "$n$r"; echo; done | sort -g | tail -1)
  verdict "$(awk -v m="$peak" 'BEGIN{print (m < 100) ? 1 : 0}')" "$n: peak RSS of the docker-maim process $peak MiB < 100 MiB (highest of the rounds)"
done
echo "phases of the last round (progress json; the downtime runs from stop to the service's start in recreate/start):"
for n in "rollback$rounds" "restore$rounds"; do
  printf '  %-8s  %s\n' "$n:" "$(phases "$work/$n.progress")"
  # shellcheck disable=SC2046
  printf '  %-8s  downtime: %s\n' "" "$(split "$work/$n.progress" $(cut -d' ' -f2,3 "$work/$n.down"))"
  [ -z "${BENCH_ROLLBACK_TRACE:-}" ] || cat "$work/$n.trace"
done
echo "  $rb_safety"
echo "  $rs_safety"
printf 'load average after the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
