#!/usr/bin/env bash
# bench.sh: `make bench`. Part 1 (issue 2): backup and restore of a generated ~800 MB mixed
# volume by docker-maim, side by side in one run with
#   - host `tar -C <mountpoint> -cf - . | zstd -T0 -1`  (the reference; and its restore
#     `zstd -dc | tar -xf -` as the restore reference),
#   - the canonical helper `docker run --rm -v VOL:/v -v DIR:/b busybox tar czf /b/x.tgz -C /v .`
#     and its restore `tar xzf` into the emptied volume; busybox is Debian's busybox-static
#     binary in a FROM-scratch image built here with the legacy builder (no registry pull).
# Part 2 (issue 3, upgrade downtime) plugs in at bench_upgrade below; part 3 (issue 21) runs
# the Go benchmark of the plan's diff (bench_plan_diff below; no engine).
#
# Measured per case: wall time (GNU time %e), peak RSS of the host process tree (GNU time %M:
# for `docker maim` the larger of the docker CLI and the plugin), peak RSS of the plugin process
# alone and of the container that does the work (both sampled every 50 ms from /proc by
# test/bench: VmHWM, summed over a container's processes), archive size.
#
# Environment:
#   BENCH_RUNS=N       repeat every case N times and keep the fastest (default 1)
#   BENCH_KEEP=1       keep the work dir (archives) and print its path instead of removing it
#   BENCH_DATA_DIR=... put the work dir (archives, backups) there (default: $TMPDIR or /tmp)
#   BENCH_PART=1       run part 1 only (default: all parts)
#   BENCH_CACHE=warm   do not drop the page cache before runs: read each run's input once
#                      instead (default cold: drop caches when the host allows it, else warm)
#
# Exit status: 0 when every target passes, 1 when one fails, 2 on a setup error.
# Everything created (containers, volume, images, work dir) is removed on exit, also on failure
# and on Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
RUNS=${BENCH_RUNS:-1}
ID="maimbench$(date +%s)$$"
WORK=$(mktemp -d "${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}/maim-bench.XXXXXX")
LABEL="com.docker-maim.bench=$ID"
BB_IMAGE="maim-bench-busybox:$ID"
VOL="${ID}_data"
PROJ="$WORK/project"
BENCH="$WORK/bin/bench"
PLUGIN="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-maim"
HELPER_REF=""
HELPER_PREEXISTING=1
CLEANUP_CMDS=() # extra cleanup commands (strings, run with eval, last first); for part 2 too

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

# ---------------------------------------------------------------------------------------
# Cleanup: runs on every exit (normal, error, INT, TERM).
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  local i
  for ((i = ${#CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do eval "${CLEANUP_CMDS[$i]}" >/dev/null 2>&1; done
  if [ -f "$PROJ/compose.yaml" ]; then
    docker compose -f "$PROJ/compose.yaml" down --volumes --remove-orphans >/dev/null 2>&1
  fi
  # Containers of this run: labelled ones and anything still holding the volume (a helper of
  # an interrupted docker-maim).
  local ids
  ids=$( (docker ps -aq --filter "label=$LABEL"; docker ps -aq --filter "volume=$VOL") 2>/dev/null | sort -u)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  docker volume ls -q --filter "name=$ID" 2>/dev/null | xargs -r docker volume rm -f >/dev/null 2>&1
  docker image rm -f "$BB_IMAGE" >/dev/null 2>&1
  # The helper image docker-maim imported for the installed binary, if this run made it.
  if [ -n "$HELPER_REF" ] && [ "$HELPER_PREEXISTING" = 0 ]; then
    docker image rm "$HELPER_REF" >/dev/null 2>&1
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# Preconditions.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_pkg() { # need_pkg COMMAND_PATH PACKAGE
  [ -x "$1" ] && return
  log "installing $2"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 ||
    { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; } ||
    die "cannot install $2"
}
need_pkg /usr/bin/time time
need_pkg /usr/bin/zstd zstd
need_pkg /bin/busybox busybox-static
ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamically linked: install busybox-static"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine (run make rig)"
docker compose version >/dev/null 2>&1 || die "no docker compose (run make rig)"
[ -x "$PLUGIN" ] || die "docker-maim is not installed at $PLUGIN (run make install)"

mkdir -p "$WORK/bin" "$PROJ" "$WORK/ref" "$WORK/bb" "$WORK/backups" "$WORK/bbctx"
log "work dir $WORK, project $ID"
GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$BENCH" ./test/bench

HELPER_REF="docker-maim-helper:$(sha256sum "$PLUGIN" | cut -c1-12)"
docker image inspect "$HELPER_REF" >/dev/null 2>&1 || HELPER_PREEXISTING=0

# ---------------------------------------------------------------------------------------
# The busybox image: Debian's static busybox, FROM scratch, legacy builder, no pull.
cp /bin/busybox "$WORK/bbctx/busybox"
cat >"$WORK/bbctx/Dockerfile" <<EOF
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL $LABEL
EOF
log "building $BB_IMAGE"
DOCKER_BUILDKIT=0 docker build -q --force-rm -t "$BB_IMAGE" "$WORK/bbctx" >"$WORK/build.log" 2>&1 ||
  { cat "$WORK/build.log" >&2; die "building $BB_IMAGE failed"; }

# ---------------------------------------------------------------------------------------
# The throwaway project: one service (created, never started, so backup and restore have
# nothing to stop and time only the data path) with the named volume.
cat >"$PROJ/compose.yaml" <<EOF
name: $ID
services:
  app:
    image: $BB_IMAGE
    pull_policy: never
    command: ["sleep", "2147483647"]
    stop_signal: SIGKILL
    labels: ["$LABEL"]
    volumes: ["data:/data"]
volumes:
  data: {}
EOF
docker compose -f "$PROJ/compose.yaml" up --no-start >/dev/null 2>&1 || die "docker compose up --no-start failed"
MP=$(docker volume inspect -f '{{.Mountpoint}}' "$VOL")
MAIM=(docker maim -f "$PROJ/compose.yaml" --backup-dir "$WORK/backups" --progress quiet)

# A throwaway docker-group user (issue 12): docker-maim as a non-root user goes through the
# helper container (the path of Docker Desktop, rootless and every non-root user). It gets
# a copy of the installed plugin, its own backup and state dirs, and read access to the
# project; removed on exit.
BUSER=""
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v runuser >/dev/null && getent group docker >/dev/null; then
  BUSER="maimbench$$"
  useradd --no-create-home --shell /usr/sbin/nologin -G docker "$BUSER" >/dev/null 2>&1 || die "useradd $BUSER failed"
  CLEANUP_CMDS+=("userdel $BUSER")
  chmod 711 "$WORK"
  chown -R "$BUSER:docker" "$PROJ" # restore writes the project files back
  mkdir -p "$WORK/user/docker/cli-plugins" "$WORK/user/backups" "$WORK/user/state"
  install -m 0755 "$PLUGIN" "$WORK/user/docker/cli-plugins/docker-maim"
  for c in "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose; do
    if [ -x "$c" ]; then install -m 0755 "$c" "$WORK/user/docker/cli-plugins/docker-compose"; break; fi
  done
  chown -R "$BUSER:docker" "$WORK/user"
  UMAIM=(runuser -u "$BUSER" -- env HOME="$WORK/user" DOCKER_CONFIG="$WORK/user/docker" MAIM_STATE_DIR="$WORK/user/state"
    docker maim -f "$PROJ/compose.yaml" --backup-dir "$WORK/user/backups" --progress quiet)
else
  log "not root or no useradd/runuser/docker group: the docker-group user cases are skipped"
fi

# Data: written by the generator straight into the volume's mountpoint when this host can
# (root on the engine host), otherwise through a container running the static generator.
T0=$(date +%s.%N)
if [ -w "$MP" ]; then
  GEN_HOW="host generator writing into the volume mountpoint"
  GEN=$("$BENCH" gen "$MP")
else
  [ -r "$MP" ] || die "the volume mountpoint $MP is not readable here: the host tar reference needs it (run as root)"
  GEN_HOW="generator in a container (mountpoint not writable here)"
  GEN=$(docker run --rm --label "$LABEL" -v "$VOL:/v" -v "$WORK/bin:/t:ro" "$BB_IMAGE" /t/bench gen /v)
fi
sync
T1=$(date +%s.%N)
DATA_BYTES=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$GEN")
DATA_FILES=$(sed -n 's/.*files=\([0-9]*\).*/\1/p' <<<"$GEN")
COUNT0=$("$BENCH" count "$MP")
log "generated $DATA_FILES files, $DATA_BYTES bytes in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}') s ($GEN_HOW)"

# ---------------------------------------------------------------------------------------
# Page cache: dropped before every timed run when the host lets us; otherwise every run
# starts warm (the data it reads was read once just before).
CACHE_MODE=${BENCH_CACHE:-cold}
if [ "$CACHE_MODE" = cold ] && ! (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then CACHE_MODE=warm; fi
cache_prep() { # cache_prep FILE_OR_DIR...: the input of the next run
  sync
  if [ "$CACHE_MODE" = cold ]; then
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  else
    local p
    for p in "$@"; do
      if [ -d "$p" ]; then tar -C "$p" -cf - . >/dev/null 2>&1 || true; else cat "$p" >/dev/null 2>&1 || true; fi
    done
  fi
}

empty_volume() { find "$MP" -mindepth 1 -delete; }
check_restored() { # check_restored CASE
  local c
  c=$("$BENCH" count "$MP")
  [ "$c" = "$COUNT0" ] || { log "$1: restored volume has $c, expected $COUNT0"; FAILED_CHECKS+=("$1"); }
}

# Results, by case key.
declare -A WALL RSS TREE PLUGRSS CRSS CGRSS SIZE
FAILED_CHECKS=()

# run_case KEY PREP_FN INPUT -- COMMAND...
#   PREP_FN runs untimed before each run (emptying the volume, removing old archives); INPUT is
#   what cache_prep warms in warm mode. COMMAND runs under GNU time and `bench run`, which
#   samples the peak RSS of its process tree, of its docker-maim processes and of the
#   containers that mount the bench volume.
run_case() {
  local key=$1 prep=$2 input=$3
  shift 4
  local i out w m line t p c g
  for ((i = 1; i <= RUNS; i++)); do
    [ "$prep" = - ] || "$prep"
    cache_prep "$input"
    log "run $key ($i/$RUNS): $*"
    if ! /usr/bin/time -f '%e %M' -o "$WORK/time.$key" "$BENCH" run "$VOL" "$WORK/mem.$key" -- "$@" >"$WORK/out.$key" 2>&1; then
      cat "$WORK/out.$key" >&2
      die "$key failed"
    fi
    out=$(tail -n 1 "$WORK/time.$key")
    w=${out% *}
    m=${out#* }
    if [ -z "${WALL[$key]:-}" ] || awk -v a="$w" -v b="${WALL[$key]}" 'BEGIN{exit !(a < b)}'; then
      WALL[$key]=$w
    fi
    line=$(cat "$WORK/mem.$key")
    t=$(sed -n 's/.*tree_kib=\([0-9]*\).*/\1/p' <<<"$line")
    p=$(sed -n 's/.*plugin_kib=\([0-9]*\).*/\1/p' <<<"$line")
    c=$(sed -n 's/.*container_kib=\([0-9]*\).*/\1/p' <<<"$line")
    g=$(sed -n 's/.*cgroup_kib=\([0-9]*\).*/\1/p' <<<"$line")
    RSS[$key]=$((${RSS[$key]:-0} > m ? ${RSS[$key]:-0} : m))
    TREE[$key]=$((${TREE[$key]:-0} > t ? ${TREE[$key]:-0} : t))
    PLUGRSS[$key]=$((${PLUGRSS[$key]:-0} > p ? ${PLUGRSS[$key]:-0} : p))
    CRSS[$key]=$((${CRSS[$key]:-0} > c ? ${CRSS[$key]:-0} : c))
    CGRSS[$key]=$((${CGRSS[$key]:-0} > g ? ${CGRSS[$key]:-0} : g))
  done
}

prep_ref() { rm -f "$WORK/ref/ref.tar.zst"; }
prep_maim_backup() { rm -rf "$WORK/backups"; mkdir -p "$WORK/backups"; }
prep_bb() { rm -f "$WORK/bb/x.tgz"; }

# Backups (the volume is full), with the service running: each stops it, archives, starts it.
# The reference first: what a user scripts by hand.
docker compose -f "$PROJ/compose.yaml" up -d >/dev/null 2>&1 || die "docker compose up -d failed"
CTR=$(docker compose -f "$PROJ/compose.yaml" ps -q app)
run_case ref_backup prep_ref "$MP" -- \
  bash -c 'docker stop -t 0 "$3" >/dev/null && tar -C "$1" -cf - . | zstd -q -T0 -1 >"$2" && sync && docker start "$3" >/dev/null' _ "$MP" "$WORK/ref/ref.tar.zst" "$CTR"
SIZE[ref_backup]=$(stat -c %s "$WORK/ref/ref.tar.zst")

run_case maim_backup prep_maim_backup "$MP" -- "${MAIM[@]}" backup
SIZE[maim_backup]=$(find "$WORK/backups" -type f -name '*.tar.*' -printf '%s\n' | awk '{s+=$1} END{print s+0}')

prep_user_backup() { find "$WORK/user/backups" -mindepth 1 -delete; }
if [ -n "$BUSER" ]; then
  run_case user_backup prep_user_backup "$MP" -- "${UMAIM[@]}" backup --format json
  SIZE[user_backup]=$(find "$WORK/user/backups" -type f -name '*.tar.*' -printf '%s\n' | awk '{s+=$1} END{print s+0}')
  UOWN=$(find "$WORK/user/backups" -type f -name '*.tar.*' -printf '%u %m\n' | sort -u)
  [ "$UOWN" = "$BUSER 600" ] || { log "user backup archives are '$UOWN', want '$BUSER 600'"; FAILED_CHECKS+=(user_backup_owner); }
fi
docker compose -f "$PROJ/compose.yaml" stop >/dev/null 2>&1 || die "docker compose stop failed"

run_case bb_backup prep_bb "$MP" -- \
  docker run --rm --label "$LABEL" -v "$VOL:/v" -v "$WORK/bb:/b" "$BB_IMAGE" tar czf /b/x.tgz -C /v .
SIZE[bb_backup]=$(stat -c %s "$WORK/bb/x.tgz")

# Restores, each into the emptied volume, each checked afterwards (file count and bytes).
run_case ref_restore empty_volume "$WORK/ref/ref.tar.zst" -- \
  bash -c 'zstd -q -dc "$2" | tar -C "$1" -xf - && sync' _ "$MP" "$WORK/ref/ref.tar.zst"
check_restored ref_restore
SIZE[ref_restore]=${SIZE[ref_backup]}

# --no-safety-backup: the volume is empty, a safety backup would only add an empty archive;
# restore checks the archive's SHA-256 before it writes anything (while the helper starts).
run_case maim_restore empty_volume "$WORK/backups" -- "${MAIM[@]}" restore --no-safety-backup
check_restored maim_restore
SIZE[maim_restore]=${SIZE[maim_backup]}

if [ -n "$BUSER" ]; then
  run_case user_restore empty_volume "$WORK/user/backups" -- "${UMAIM[@]}" restore --no-safety-backup --format json
  check_restored user_restore
  SIZE[user_restore]=${SIZE[user_backup]}
fi

run_case bb_restore empty_volume "$WORK/bb/x.tgz" -- \
  docker run --rm --label "$LABEL" -v "$VOL:/v" -v "$WORK/bb:/b" "$BB_IMAGE" tar xzf /b/x.tgz -C /v
check_restored bb_restore
SIZE[bb_restore]=${SIZE[bb_backup]}

# ---------------------------------------------------------------------------------------
# Report.
mib() { awk -v k="${1:-0}" 'BEGIN{ if (k == 0) print "-"; else printf "%.1f", k/1024 }'; }
REF_B=${WALL[ref_backup]}
REF_R=${WALL[ref_restore]}
echo
echo "== docker-maim benchmark, part 1: backup/restore (issue 2) =="
echo "host: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r); engine $(docker version --format '{{.Server.Version}}') ($(docker info --format '{{.Driver}}')); $(docker maim version 2>/dev/null)"
echo "data: $DATA_FILES files, $(awk -v b="$DATA_BYTES" 'BEGIN{printf "%.1f MB", b/1e6}') of content (20000 small files, 300 MiB log, 200 MiB random); $GEN_HOW"
echo "page cache: $CACHE_MODE before every run$([ "$CACHE_MODE" = cold ] && echo ' (sync; echo 3 > /proc/sys/vm/drop_caches)' || echo ' (input read once just before)'); runs per case: $RUNS (fastest kept)"
echo
printf '%-34s %8s %7s %9s %9s %8s %8s %8s %8s %8s\n' case seconds 'MB/s' 'x tar|zst' 'x hostref' 'time %M' 'tree' 'plugin' 'ctr' 'arch MB'
row() { # row KEY LABEL REF
  local k=$1
  printf '%-34s %8.2f %7.1f %9.2f %9.2f %8s %8s %8s %8s %8.1f\n' "$2" "${WALL[$k]}" \
    "$(awk -v b="$DATA_BYTES" -v s="${WALL[$k]}" 'BEGIN{print (s > 0 ? b/1e6/s : 0)}')" \
    "$(awk -v a="${WALL[$k]}" -v r="$REF_B" 'BEGIN{print a/r}')" \
    "$(awk -v a="${WALL[$k]}" -v r="$3" 'BEGIN{print a/r}')" \
    "$(mib "${RSS[$k]}")" "$(mib "${TREE[$k]}")" "$(mib "${PLUGRSS[$k]:-0}")" "$(mib "${CRSS[$k]:-0}")" \
    "$(awk -v s="${SIZE[$k]}" 'BEGIN{print s/1e6}')"
}
row ref_backup "(c) host tar | zstd -T0 -1" "$REF_B"
row maim_backup "(a) docker maim backup" "$REF_B"
[ -n "$BUSER" ] && row user_backup "(a') docker maim backup, docker user" "$REF_B"
row bb_backup "(d) busybox tar czf (container)" "$REF_B"
row ref_restore "    host zstd -dc | tar x" "$REF_R"
row maim_restore "(b) docker maim restore" "$REF_R"
[ -n "$BUSER" ] && row user_restore "(b') docker maim restore, docker user" "$REF_R"
row bb_restore "(e) busybox tar xzf (container)" "$REF_R"
echo
echo "MB/s: 10^6 content bytes per second. x tar|zst: time / host tar|zstd backup time; x hostref: time /"
echo "host reference of the same direction (backups: tar|zstd, restores: zstd -dc|tar x)."
echo "Peak RSS in MiB. time %M: GNU time of the command (a wait4 figure; the bench runner wraps it)."
echo "tree: the largest VmHWM of one host process of the command (docker CLI, plugin, tar, zstd);"
echo "plugin: the docker-maim plugin process; ctr: the container doing the work (docker-maim helper or"
echo "busybox), its processes' VmHWM summed; all three sampled every 50 ms. cgroup memory peaks (incl. page"
echo "cache): maim backup $(mib "${CGRSS[maim_backup]:-0}"), maim restore $(mib "${CGRSS[maim_restore]:-0}"), busybox backup $(mib "${CGRSS[bb_backup]:-0}"), busybox restore $(mib "${CGRSS[bb_restore]:-0}") MiB."
echo "docker maim restore ran with --no-safety-backup into the emptied volume (it checks the archive's SHA-256 before it writes)."
echo "Backups ran with the service running: the reference is docker stop; tar | zstd -T0 -1 > F; sync; docker start."
echo "Restores ran with it stopped: the reference is zstd -dc F | tar x; sync. docker user: a throwaway docker-group"
echo "user; its data paths: $(grep -ho '"data_path": *"[^"]*"' "$WORK"/out.user_* 2>/dev/null | sed 's/.*: *//' | sort -u | tr '\n' ' ')"
echo
echo "== side by side (issue 12): figure / reference =="
printf '%-40s %9s %9s %7s %10s\n' figure seconds reference ratio 'peak RSS'
side() { # side KEY LABEL REF
  [ -n "${WALL[$1]:-}" ] || return 0
  local peak=$(( ${RSS[$1]:-0} > ${CRSS[$1]:-0} ? ${RSS[$1]:-0} : ${CRSS[$1]:-0} ))
  printf '%-40s %9.2f %9.2f %6.2fx %7s MiB\n' "$2" "${WALL[$1]}" "$3" "$(awk -v a="${WALL[$1]}" -v r="$3" 'BEGIN{print a/r}')" "$(mib "$peak")"
}
side maim_backup "backup, root" "$REF_B"
side user_backup "backup, docker-group user" "$REF_B"
side maim_restore "restore, root" "$REF_R"
side user_restore "restore, docker-group user" "$REF_R"
echo

STATUS=0
verdict() { # verdict OK TEXT
  if [ "$1" = 1 ]; then echo "PASS: $2"; else echo "FAIL: $2"; STATUS=1; fi
}
ok=$(awk -v a="${WALL[maim_backup]}" -v r="$REF_B" 'BEGIN{print (a <= 1.3*r) ? 1 : 0}')
verdict "$ok" "backup time ${WALL[maim_backup]} s <= 1.3 x tar|zstd ($(awk -v r="$REF_B" 'BEGIN{printf "%.2f", 1.3*r}') s): ratio $(awk -v a="${WALL[maim_backup]}" -v r="$REF_B" 'BEGIN{printf "%.2f", a/r}')"
# Restore (issue 12): docker maim restore (hash check, then extract) beside zstd -dc | tar x.
ok=$(awk -v a="${WALL[maim_restore]}" -v r="$REF_R" 'BEGIN{print (a <= 1.3*r) ? 1 : 0}')
verdict "$ok" "restore time ${WALL[maim_restore]} s <= 1.3 x zstd -dc|tar x ($(awk -v r="$REF_R" 'BEGIN{printf "%.2f", 1.3*r}') s): ratio $(awk -v a="${WALL[maim_restore]}" -v r="$REF_R" 'BEGIN{printf "%.2f", a/r}')"
for k in user_backup user_restore; do
  [ -n "${WALL[$k]:-}" ] || continue
  if [ "${k%_*}" = user ] && [ "$k" = user_backup ]; then r=$REF_B; n="tar|zstd"; else r=$REF_R; n="zstd -dc|tar x"; fi
  ok=$(awk -v a="${WALL[$k]}" -v r="$r" 'BEGIN{print (a <= 1.3*r) ? 1 : 0}')
  verdict "$ok" "docker-group user ${k#user_} time ${WALL[$k]} s <= 1.3 x $n: ratio $(awk -v a="${WALL[$k]}" -v r="$r" 'BEGIN{printf "%.2f", a/r}')"
done
for k in maim_backup maim_restore user_backup user_restore; do
  [ -n "${WALL[$k]:-}" ] || continue
  for what in RSS PLUGRSS CRSS; do
    declare -n arr=$what
    v=${arr[$k]:-0}
    case $what in RSS) n="command (time %M)" ;; PLUGRSS) n="plugin process" ;; CRSS) n="helper container" ;; esac
    verdict "$([ "$v" -lt $((100 * 1024)) ] && echo 1 || echo 0)" "${k/_/ } peak RSS of the $n $(mib "$v") MiB < 100 MiB"
    unset -n arr
  done
done
for c in "${FAILED_CHECKS[@]}"; do verdict 0 "$c: restored data does not match the generated data"; done

# ---------------------------------------------------------------------------------------
# ==== PART 2 (issue 3): upgrade downtime ====
# bench_upgrade: scripts/bench-upgrade.sh measures the downtime (first container stopped ->
# all healthy) of `docker maim upgrade` on ~1 GB beside `docker compose pull && up -d` and
# the backup time alone, against "downtime <= backup time + 1.2 x compose recreate time".
bench_upgrade() {
  local out
  if ! out=$(bash "$(dirname "$0")/bench-upgrade.sh" 2>&1); then
    printf '%s\n' "$out"; STATUS=1; return
  fi
  printf '%s\n' "$out"
  grep -q "FAIL upgrade downtime" <<<"$out" && STATUS=1
  return 0
}
if [ "${BENCH_PART:-all}" != 1 ]; then
  echo
  echo "== part 2: upgrade downtime (issue 3) =="
  bench_upgrade
fi

# ---------------------------------------------------------------------------------------
# ==== PART 3 (issue 21): the plan's diff ====
# bench_plan_diff: BenchmarkPlanDiffLarge (internal/config), the redacted unified diff of a
# 50,000-line config with four changes and with a change every 50th line, against "under a
# second of CPU an op" (its cpu-ms/op metric: the wall time printed beside it depends on
# what else the machine runs).
bench_plan_diff() {
  local out name ms n=0
  if ! out=$(cd "$REPO" && GOTOOLCHAIN=local go test -run '^$' -bench '^BenchmarkPlanDiffLarge$' -benchtime 5x ./internal/config 2>&1); then
    printf '%s\n' "$out"; STATUS=1; return
  fi
  grep '^Benchmark' <<<"$out" || true
  while read -r name ms; do
    n=$((n + 1))
    verdict "$(awk -v m="$ms" 'BEGIN{print (m < 1000) ? 1 : 0}')" "plan diff, ${name#BenchmarkPlanDiffLarge/}, 50,000 lines: $ms ms of CPU < 1000 ms"
  done < <(awk '/^BenchmarkPlanDiffLarge\// { c = $1; sub(/-[0-9]+$/, "", c); for (i = 1; i < NF; i++) if ($(i + 1) == "cpu-ms/op") print c, $i }' <<<"$out")
  [ "$n" -gt 0 ] || verdict 0 "plan diff: BenchmarkPlanDiffLarge reported no cpu-ms/op"
}
if [ "${BENCH_PART:-all}" != 1 ]; then
  echo
  echo "== part 3: the plan's diff (issue 21) =="
  bench_plan_diff
fi
if [ "${BENCH_PART:-all}" != 1 ]; then echo; echo "== part: incremental backups (issue 23) =="; bash "$REPO/scripts/bench_incremental.sh" || STATUS=1; fi

[ "${BENCH_PART:-all}" = 1 ] || { echo; echo "== part 4: PostgreSQL 15 -> 16 by upgrade --migrate-db (issue 19) =="; bash "$REPO/scripts/bench_db.sh" || STATUS=1; }
[ "${BENCH_PART:-all}" = 1 ] || { printf '\n== part: the way back, rollback and restore downtime (issue 23) ==\n'; bash "$REPO/scripts/bench_rollback.sh" || STATUS=1; }
[ "${BENCH_PART:-all}" = 1 ] || { echo; echo "== part s3: the remote copy's upload vs boto3 (issue 20) =="; bash "$REPO/scripts/bench_s3.sh" || STATUS=1; }
exit "$STATUS"
