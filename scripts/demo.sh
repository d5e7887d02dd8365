#!/usr/bin/env bash
# The docker-maim demo: a sample Compose project (examples/demo) backed up, damaged and
# restored; upgraded v1 -> v2 with its config merged; rolled back; and a failing release
# that rolls itself back. Runs against the local engine and loopback registry
# (make demo brings them up and installs the plugin). Removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
REG=${MAIM_TEST_REGISTRY:-127.0.0.1:5001}
REPO=$REG/maim-demo-bot
work=$(mktemp -d /tmp/maim-demo.XXXXXX)
export MAIM_BACKUP_DIR=$work/backups MAIM_STATE_DIR=$work/state MAIM_DEMO_REGISTRY=$REG
GATE=(--stable-period 3s --timeout 2m)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
maim() { run docker maim "$@"; }
show() { # what the bot runs and what its data says
  docker compose exec -T bot /bin/bot print-config | grep -E '"(version|schema|nickname)"' | tr -d ' ,' | paste -sd' '
}
cleanup() {
  step "cleaning up"
  (cd "$work/project" 2>/dev/null && docker compose down -v --remove-orphans >/dev/null 2>&1) || true
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^($REPO|docker-maim/pin):(.*maim-demo.*|[0-9].*)$" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "building the stand-in bot 1.0.0, 2.0.0 and a broken 2.1.0, pushed to $REG"
bash scripts/bot-images.sh "$REPO" 1.0.0 2.0.0 2.1.0:BOT_FAIL=crash-late

step "deploying the sample project at 1.0.0"
mkdir -p "$work/project"
cp examples/demo/compose.yaml "$work/project/"
cd "$work/project"
echo "BOT_VERSION=1.0.0" >.env
run docker compose up -d --wait --quiet-pull 2>/dev/null || run docker compose up -d
sleep 2
sed -i 's/^nickname = .*/nickname = "小草"  # the user renamed the bot/' config/bot_config.toml
run docker compose restart bot >/dev/null
sleep 2
show

step "backup, damage, restore"
maim backup
maim backups
run docker compose exec -T bot /bin/bot wipe /bot/data
echo 'nickname = "oops"' >config/bot_config.toml
echo "damaged: $(ls "$(docker volume inspect -f '{{.Mountpoint}}' maim-demo_botdata)" 2>/dev/null | wc -l) files left in the volume (if the host can see it), config overwritten"
maim restore "${GATE[@]}"
show
grep -n nickname config/bot_config.toml

step "upgrade to 2.0.0: edit .env, look at the plan first"
echo "BOT_VERSION=2.0.0" >.env
maim upgrade --dry-run
set +e
maim upgrade "${GATE[@]}"; code=$?
set -e
echo "exit code $code: a major version rise is refused until you accept it"
maim upgrade --accept-breaking "${GATE[@]}"
show
grep -nE '^(version|nickname|platform)' config/bot_config.toml
maim status

step "rollback: data, config and compose files, and the 1.0.0 image"
maim rollback "${GATE[@]}"
show
maim status

step "a broken release (2.1.0 migrates the data, then crashes) rolls itself back"
echo "BOT_VERSION=2.1.0" >.env
set +e
maim upgrade --accept-breaking "${GATE[@]}"; code=$?
set -e
echo "exit code $code (10: failed and rolled back)"
[ "$code" = 10 ] || { echo "demo: expected exit code 10" >&2; exit 1; }
show
maim backups
step "demo complete"
