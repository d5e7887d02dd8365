#!/usr/bin/env bash
# bench_db.sh: `make bench` part (issue 19). A ~1 GB PostgreSQL 15 database moved to 16, in
# one run, two ways on the same data:
#   (a) by hand, as a careful user does it: `docker compose stop app`; a fresh 16 server on a
#       new volume (`docker run`, same POSTGRES_USER/PASSWORD/DB); `docker compose exec -T db
#       pg_dumpall -U app | docker exec -i NEW psql -U app -d postgres`; `vacuumdb --all
#       --analyze-only`; the temporary server removed; the compose file pointed at 16 and the
#       new volume; `docker compose up -d --wait`.
#   (b) `docker maim upgrade --migrate-db db` after the tag is edited to 16 (its defaults:
#       before anything stops, a side 16 cluster initialised in a side directory of the data
#       volume and the hot pass of the two-pass file backup; the app stopped, then the dump
#       from the old server streamed into the backup and into the side cluster, ANALYZE
#       there; the old server and the side server stopped; pass two, verify, the side
#       directory renamed into place; the service started on 16, recreate, the gate).
# The database is pgbench-like (pgbench_branches, _tellers, _accounts, _history, their
# primary keys and two more indexes), generated inside the 15 container with SQL
# generate_series: MAIM_BENCH_DB_SCALE (default 64, pgbench's scale: 100,000 accounts each)
# gives ~1 GB of database.
#
# Downtime is read from the engine's events (`docker events` streamed, the project's label),
# not from a stopwatch: from the first `die` of a project service's container (the
# app is stopped first in both ways: nothing writes while the data moves) to the last `start`
# or `health_status: healthy` of one (the new db healthy, the app started again and healthy).
# The database's own window (die of the old db -> the new db healthy) is printed beside it:
# in both ways the old server keeps running while it is dumped, the app stopped, so the dump
# is in the downtime and not in that window.
# docker-maim's time by phase is printed from its --progress json lines (kept, with the
# result JSON, in MAIM_BENCH_DB_EVENTS).
# docker-maim's peak RSS: the plugin process, sampled every 50 ms by test/bench (`bench run`).
# Targets: downtime of (b) <= 1.5 x (a); plugin peak RSS < 100 MiB. Both results are checked
# (each table's row count and sums on 16).
#
# Environment: MAIM_BENCH_DB_EVENTS=DIR keeps the event logs; MAIM_PLUGIN=PATH runs that docker-maim build (in a private DOCKER_CONFIG)
# instead of the installed plugin; MAIM_TEST_REGISTRY (default 127.0.0.1:5001) the loopback
# registry the images are pushed to; BENCH_DATA_DIR where the work dir (backups) goes.
# Exit status: 0 every target passes, 1 one fails, 2 setup error. Everything it made
# (containers, volumes, images, work dir) is removed on exit, also on failure and Ctrl-C.
set -euo pipefail
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
cd "$(dirname "$0")/.."
REG=${MAIM_TEST_REGISTRY:-127.0.0.1:5001}
SCALE=${MAIM_BENCH_DB_SCALE:-64}
proj=maimbench-db-$$
repo=$REG/$proj
work=$(mktemp -d "${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}/maim-bench-db.XXXXXX")
newdb=$proj-new16
export MAIM_BACKUP_DIR=$work/backups MAIM_STATE_DIR=$work/state

log() { printf 'bench_db: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [ -z "$EVPID" ] || kill "$EVPID" 2>/dev/null
  docker rm -f "$newdb" >/dev/null 2>&1
  (cd "$work/p" 2>/dev/null && docker compose down -v --remove-orphans >/dev/null 2>&1)
  docker volume rm -f "${proj}_pgdata" "${proj}_pgdata16" >/dev/null 2>&1
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^($repo/|docker-maim/pin:$proj\.)" | xargs -r docker rmi -f >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

docker compose version >/dev/null 2>&1 || die "no docker compose (run make rig)"
if [ -n "${MAIM_PLUGIN:-}" ]; then
  mkdir -p "$work/dc/cli-plugins"
  cp "$MAIM_PLUGIN" "$work/dc/cli-plugins/docker-maim"
  for c in "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose; do
    [ -x "$c" ] && { ln -s "$c" "$work/dc/cli-plugins/docker-compose"; break; }
  done
  export DOCKER_CONFIG=$work/dc
fi
docker maim version >/dev/null 2>&1 || die "docker maim is not installed (run make install, or set MAIM_PLUGIN)"
bash scripts/db-images.sh maim-test-postgres:15 maim-test-postgres:16 >&2 || die "scripts/db-images.sh failed"
GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$work/bench" ./test/bench || die "building test/bench failed"
for v in 15 16; do
  docker tag "maim-test-postgres:$v" "$repo/pg:$v" && docker push -q "$repo/pg:$v" >/dev/null || die "pushing $repo/pg:$v failed"
done
bash scripts/bot-images.sh "$repo/app" 1.0.0 >/dev/null || die "building the app image failed"

mkdir -p "$work/p" && cd "$work/p"
cat >compose.yaml <<YML
name: $proj
services:
  db:
    image: \${DB_IMAGE}
    environment: {POSTGRES_USER: app, POSTGRES_PASSWORD: bench-pw, POSTGRES_DB: appdb}
    volumes: [pgdata:/var/lib/postgresql/data]
    healthcheck: {test: [CMD, pg_isready, -U, app, -d, appdb], interval: 1s, timeout: 3s, retries: 120}
  app:
    image: $repo/app:1.0.0
    depends_on: {db: {condition: service_healthy}}
volumes:
  pgdata: {name: "\${PGVOL:-${proj}_pgdata}"}
YML
on15() { printf 'DB_IMAGE=%s\n' "$repo/pg:15" >.env; }
on15
docker compose up -d --wait --quiet-pull >/dev/null 2>&1 || die "docker compose up (PostgreSQL 15) failed"
sql() { docker compose exec -T db psql -X -U app -d appdb -v ON_ERROR_STOP=1 -Atq "$@"; }

# ---- the data: pgbench-like, generated by the 15 server itself ----
t0=$(date +%s)
sql >/dev/null <<SQL || die "generating the data failed"
CREATE TABLE pgbench_branches (bid int NOT NULL, bbalance int NOT NULL, filler char(88));
CREATE TABLE pgbench_tellers (tid int NOT NULL, bid int NOT NULL, tbalance int NOT NULL, filler char(84));
CREATE TABLE pgbench_accounts (aid int NOT NULL, bid int NOT NULL, abalance int NOT NULL, filler char(84));
CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
INSERT INTO pgbench_branches SELECT b, 0, '' FROM generate_series(1, $SCALE) b;
INSERT INTO pgbench_tellers SELECT t, (t - 1) / 10 + 1, 0, '' FROM generate_series(1, 10 * $SCALE) t;
INSERT INTO pgbench_accounts SELECT a, (a - 1) / 100000 + 1, ((a::bigint * 7919) % 10000)::int - 5000, '' FROM generate_series(1, 100000 * $SCALE) a;
INSERT INTO pgbench_history SELECT h % (10 * $SCALE) + 1, h % $SCALE + 1, (h * 31) % (100000 * $SCALE) + 1, h % 1000 - 500,
  timestamp '2026-01-01' + h * interval '1 second', '' FROM generate_series(1, 10000 * $SCALE) h;
ALTER TABLE pgbench_branches ADD PRIMARY KEY (bid);
ALTER TABLE pgbench_tellers ADD PRIMARY KEY (tid);
ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid);
ALTER TABLE pgbench_tellers ADD FOREIGN KEY (bid) REFERENCES pgbench_branches;
CREATE INDEX pgbench_accounts_bid ON pgbench_accounts (bid);
CREATE INDEX pgbench_history_mtime ON pgbench_history (mtime);
ANALYZE;
CHECKPOINT;
SQL
gen_s=$(($(date +%s) - t0))
db_bytes=$(sql -c "SELECT pg_database_size('appdb')")
dir_bytes=$(du -sb "$(docker volume inspect -f '{{.Mountpoint}}' "${proj}_pgdata")" | cut -f1)
FP_SQL="SELECT (SELECT count(*) FROM pgbench_branches), (SELECT count(*) || '/' || sum(bid) FROM pgbench_tellers),
  (SELECT count(*) || '/' || sum(abalance) || '/' || sum(aid::bigint) FROM pgbench_accounts),
  (SELECT count(*) || '/' || sum(delta) || '/' || max(mtime) FROM pgbench_history),
  (SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'pgbench%')"
fp15=$(sql -c "$FP_SQL")
log "generated scale $SCALE in ${gen_s}s: database $((db_bytes / 1000000)) MB, data directory $((dir_bytes / 1000000)) MB ($fp15)"

# watch OUT: the project's container events from now on, streamed into OUT (time service
# action) until unwatch. Streamed, not read back with --until: the engine keeps only its last
# 256 events, and the healthchecks' exec events alone fill that in a minute.
EVPID=
watch() {
  docker events --since "$(date +%s.%N)" --filter type=container --filter "label=com.docker.compose.project=$proj" \
    --format '{{.TimeNano}} {{index .Actor.Attributes "com.docker.compose.service"}} {{.Action}}' >"$1" &
  EVPID=$!
  sleep 0.5
}
unwatch() { sleep 1; kill "$EVPID" 2>/dev/null; wait "$EVPID" 2>/dev/null || true; EVPID=; }
# MAIM_BENCH_DB_EVENTS=DIR keeps the two event logs there.
keep_events() { [ -z "${MAIM_BENCH_DB_EVENTS:-}" ] || { mkdir -p "$MAIM_BENCH_DB_EVENTS" && cp "$work"/ev.* "$work/maim.err" "$work/maim.json" "$MAIM_BENCH_DB_EVENTS/"; }; }
# phases PROGRESS: docker-maim's time per phase, from its --progress json lines (each line
# names the phase running; a phase lasts from its first line to the next phase's first line,
# the last one to END, the command's end), in order.
phases() {
  python3 - "$1" "$2" <<'PY'
import json, sys
from datetime import datetime
seen = []
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    ph, t = d.get("phase"), d.get("time")
    if not ph or not t:
        continue
    t = datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    if not seen or seen[-1][0] != ph:
        seen.append([ph, t, t])
    seen[-1][2] = t
out = []
for i, (ph, t0, t1) in enumerate(seen):
    end = seen[i + 1][1] if i + 1 < len(seen) else max(t1, float(sys.argv[2]))
    out.append("%s %.1fs" % (ph, end - t0))
print(", ".join(out))
PY
}
# downtime FILE: "PROJECT_SECONDS DB_SECONDS" from a window's events (see the header).
downtime() {
  awk '$2 != "app" && $2 != "db" { next }
    { act = $3; for (i = 4; i <= NF; i++) act = act " " $i }
    act == "die" && first == "" { first = $1 }
    act == "die" && $2 == "db" && dbdie == "" { dbdie = $1 }
    first != "" && (act == "start" || act == "health_status: healthy") { last = $1 }
    dbdie != "" && $2 == "db" && act == "health_status: healthy" { dbup = $1 }
    END { if (first == "" || last == "" || dbup == "") exit 1; printf "%.2f %.2f\n", (last - first) / 1e9, (dbup - dbdie) / 1e9 }' "$1"
}
check16() { # check16 WHAT: the server runs 16 and holds what 15 held
  local v fp
  v=$(sql -c 'SHOW server_version_num')
  fp=$(sql -c "$FP_SQL")
  [ "${v:0:2}" = 16 ] || { log "$1: the server runs $v, want 16"; return 1; }
  [ "$fp" = "$fp15" ] || { log "$1: on 16 $fp, on 15 $fp15"; return 1; }
}

# ---- (a) by hand ----
watch "$work/ev.hand"
T0=$(date +%s.%N)
docker compose stop app >/dev/null 2>&1 || die "hand: stop app failed"
docker run -d --name "$newdb" --label "com.docker-maim.bench=$proj" -v "${proj}_pgdata16:/var/lib/postgresql/data" \
  -e POSTGRES_USER=app -e POSTGRES_PASSWORD=bench-pw -e POSTGRES_DB=appdb "$repo/pg:16" >/dev/null || die "hand: docker run 16 failed"
for _ in $(seq 1 600); do
  docker exec "$newdb" pg_isready -U app -d appdb -q 2>/dev/null && [ "$(docker exec "$newdb" psql -X -U app -d appdb -Atc 'SELECT 1' 2>/dev/null)" = 1 ] && break
  sleep 0.1
done
# pg_dumpall recreates the role and database the entrypoint made: those two "already exists"
# errors are expected, any other is not.
docker compose exec -T db pg_dumpall -U app | docker exec -i "$newdb" psql -X -q -U app -d postgres >/dev/null 2>"$work/hand.err" || die "hand: pg_dumpall | psql failed"
grep ERROR "$work/hand.err" | grep -v 'already exists' && die "hand: the load failed (see above)"
docker exec "$newdb" vacuumdb -U app --all --analyze-only -q || die "hand: vacuumdb failed"
docker stop "$newdb" >/dev/null && docker rm "$newdb" >/dev/null
printf 'DB_IMAGE=%s\nPGVOL=%s\n' "$repo/pg:16" "${proj}_pgdata16" >.env
docker compose up -d --wait >/dev/null 2>&1 || die "hand: docker compose up -d --wait on 16 failed"
T1=$(date +%s.%N)
hand_wall=$(echo "$T1 - $T0" | bc)
unwatch
read -r hand hand_db < <(downtime "$work/ev.hand") || { cat "$work/ev.hand" >&2; die "hand: no downtime in the events"; }
check16 hand || die "hand: the data on 16 differs"

# back to 15 on the untouched original volume (the hand way never wrote to it)
docker compose down >/dev/null 2>&1
docker volume rm "${proj}_pgdata16" >/dev/null
on15
docker compose up -d --wait >/dev/null 2>&1 || die "docker compose up (back on 15) failed"
[ "$(sql -c "$FP_SQL")" = "$fp15" ] || die "the 15 data changed after the hand way"

# ---- (b) docker maim upgrade --migrate-db db ----
printf 'DB_IMAGE=%s\n' "$repo/pg:16" >.env
watch "$work/ev.maim"
T0=$(date +%s.%N)
"$work/bench" run "${proj}_pgdata" "$work/mem.maim" -- docker maim upgrade --migrate-db db --progress json --format json >"$work/maim.json" 2>"$work/maim.err" ||
  { tail -n 40 "$work/maim.err" >&2; cat "$work/maim.json" >&2; die "docker maim upgrade --migrate-db db failed"; }
T1=$(date +%s.%N)
maim_wall=$(echo "$T1 - $T0" | bc)
unwatch
read -r maim maim_db < <(downtime "$work/ev.maim") || { cat "$work/ev.maim" >&2; die "maim: no downtime in the events"; }
check16 "docker maim" || die "maim: the data on 16 differs"
maim_own=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.2f" % (d.get("downtime_ns", 0) / 1e9))' "$work/maim.json")
plugin_kib=$(sed -n 's/.*plugin_kib=\([0-9]*\).*/\1/p' "$work/mem.maim")
dump_mb=$(find "$MAIM_BACKUP_DIR" -path '*dump*' -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s / 1e6}')

keep_events
maim_phases=$(phases "$work/maim.err" "$T1" 2>/dev/null || echo "(no progress lines)")

# ---- report ----
ratio=$(awk -v a="$maim" -v b="$hand" 'BEGIN{printf "%.2f", a/b}')
echo "== PostgreSQL 15 -> 16, ~1 GB (issue 19) =="
echo "host: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, load average before $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg); engine $(docker version --format '{{.Server.Version}}') ($(docker info --format '{{.Driver}}'))"
echo "data: pgbench-like, scale $SCALE ($((SCALE * 100000)) accounts), database $((db_bytes / 1000000)) MB, data directory $((dir_bytes / 1000000)) MB; generated in ${gen_s}s"
printf '%-52s %10s %10s %10s %8s\n' way 'downtime' 'db window' 'wall' ratio
printf '%-52s %9.2fs %9.2fs %9.2fs %8s\n' "(a) by hand: stop app, pg_dumpall | psql on new 16, up" "$hand" "$hand_db" "$hand_wall" 1.00
printf '%-52s %9.2fs %9.2fs %9.2fs %7sx\n' "(b) docker maim upgrade --migrate-db db" "$maim" "$maim_db" "$maim_wall" "$ratio"
echo "downtime: engine events, first die of app/db -> last start or healthy of app/db; db window: die of the old"
echo "db -> the new db healthy. docker maim's own downtime figure: ${maim_own}s (stop -> gate passed, its stable"
echo "period included). Its dump (${dump_mb} MB zstd in the backup) is taken once the app stopped; its file"
echo "backup is two-pass. docker-maim by phase (its --progress json lines): $maim_phases."
echo "docker-maim plugin process peak RSS $((plugin_kib / 1024)) MiB (VmHWM, sampled every 50 ms by test/bench)."
status=0
if [ "$(echo "$maim <= 1.5 * $hand" | bc)" = 1 ]; then echo "PASS db migrate downtime ${maim}s <= 1.5 x by hand (${hand}s): ratio $ratio"; else echo "FAIL db migrate downtime ${maim}s > 1.5 x by hand (${hand}s): ratio $ratio"; status=1; fi
if [ "$plugin_kib" -lt $((100 * 1024)) ]; then echo "PASS db migrate plugin peak RSS $((plugin_kib / 1024)) MiB < 100 MiB"; else echo "FAIL db migrate plugin peak RSS $((plugin_kib / 1024)) MiB >= 100 MiB"; status=1; fi
exit "$status"
