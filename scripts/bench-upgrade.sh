#!/usr/bin/env bash
# bench-upgrade.sh: downtime of `docker maim upgrade` on a project holding ~1 GB, beside
# `docker compose pull && docker compose up -d` (no backup) on the same project, and the
# backup time alone. Downtime = first container stopped -> all healthy.
# Data is generated straight into the volume's mountpoint (the bench runs as root on the
# engine's host); the tools under test go through the engine as users' would.
set -euo pipefail
cd "$(dirname "$0")/.."
REG=${MAIM_TEST_REGISTRY:-127.0.0.1:5001}
SIZE_MB=${MAIM_BENCH_UPGRADE_MB:-1024}
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
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
wait_healthy() {
  local id
  for _ in $(seq 1 600); do
    id=$(docker compose ps -q bot 2>/dev/null || true)
    if [ -n "$id" ] && [ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ]; then return 0; fi
    sleep 0.05
  done
  echo "bench: bot never became healthy" >&2; return 1
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
rand=$((SIZE_MB * 4 / 10)); logs=$((SIZE_MB - rand))
head -c "${rand}M" /dev/urandom >"$mp/blob.bin"
(set +o pipefail; yes "2026-11-25T12:00:00.123Z INFO [chat] group=123456 user=654321 handled message len=42 reply=ok" | head -c "${logs}M" >"$mp/bot.log")
sync
echo "generated $(du -sh "$mp" | cut -f1) in the project's volume"

# (a) docker compose pull && up -d, no backup: 1.0.0 -> 1.1.0
echo BOT_VERSION=1.1.0 >.env
docker compose pull -q >/dev/null 2>&1
t0=$(now); docker compose up -d >/dev/null 2>&1; wait_healthy; compose_down=$(since "$t0")
echo BOT_VERSION=1.0.0 >.env
docker compose up -d >/dev/null 2>&1; wait_healthy

# (b) docker maim backup alone
t0=$(now); docker maim backup --progress quiet >/dev/null; backup_s=$(since "$t0")

# (c) docker maim upgrade 1.0.0 -> 1.1.0 (pull, stop, backup, recreate, health gate)
echo BOT_VERSION=1.1.0 >.env
t0=$(now); out=$(docker maim upgrade --progress quiet); total=$(since "$t0")
maim_down=$(sed -n 's/.*downtime \([0-9.]*\)s.*/\1/p' <<<"$out")
[ -n "$maim_down" ] || { echo "$out"; echo "bench: no downtime in upgrade output" >&2; exit 1; }

limit=$(echo "$backup_s + 1.2 * $compose_down" | bc)
printf '\nUpgrade downtime on %d MB (first stop -> all healthy)\n' "$SIZE_MB"
printf '  %-44s %8.2f s\n' "docker compose pull && up -d (no backup)" "$compose_down"
printf '  %-44s %8.2f s\n' "docker maim backup alone" "$backup_s"
printf '  %-44s %8.2f s   (whole command %.2f s)\n' "docker maim upgrade downtime" "$maim_down" "$total"
printf '  %-44s %8.2f s\n' "target: backup + 1.2 x compose" "$limit"
if [ "$(echo "$maim_down <= $limit" | bc)" = 1 ]; then echo "  PASS upgrade downtime"; else echo "  FAIL upgrade downtime"; fi
