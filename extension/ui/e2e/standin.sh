#!/usr/bin/env bash
# standin.sh up|down NAME WORK: a stand-in Compose project NAME (the stand-in bot of
# test/standin-bot, as scripts/demo.sh deploys it) in WORK/project, with its images
# 1.0.0, 2.0.0 and a broken 2.1.0 (migrates, then crashes) pushed to the loopback
# registry as REG/NAME-bot. down removes every container, volume and image it made.
set -euo pipefail
cmd=$1 name=$2 work=$3
root=$(cd "$(dirname "$0")/../../.." && pwd)
REG=${MAIM_TEST_REGISTRY:-127.0.0.1:5001}
repo=$REG/$name-bot
case $cmd in
up)
  bash "$root/scripts/bot-images.sh" "$repo" 1.0.0 2.0.0 2.1.0:BOT_FAIL=crash-late >&2
  mkdir -p "$work/project"
  sed -e "s/^name: maim-demo/name: $name/" \
      -e "s#\${MAIM_DEMO_REGISTRY:-127.0.0.1:5001}/maim-demo-bot:\${BOT_VERSION:-1.0.0}#$repo:1.0.0#" \
      "$root/examples/demo/compose.yaml" >"$work/project/compose.yaml"
  cd "$work/project"
  docker compose up -d --quiet-pull >&2
  ;;
down)
  (cd "$work/project" 2>/dev/null && docker compose down -v --remove-orphans >/dev/null 2>&1) || true
  docker ps -aq --filter "label=com.docker.compose.project=$name" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker volume ls -q --filter "label=com.docker.compose.project=$name" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | awk -v r="$repo" -v n="$name" 'index($1, r":")==1 || index($1, n)>0 {print $2}' | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$work"
  ;;
esac
