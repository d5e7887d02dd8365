#!/usr/bin/env bash
# capture-fixtures.sh: runs the real bin/docker-maim on a stand-in project and saves what it
# prints (--format json on stdout, --progress json on stderr) as the UI's test fixtures.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$here/../src/fixtures
name=maimext$$
work=$(mktemp -d /tmp/maim-ext-fx.XXXXXX)
export MAIM_BACKUP_DIR=$work/backups MAIM_STATE_DIR=$work/state
trap 'bash "$here/standin.sh" down $name $work' EXIT
bash "$here/standin.sh" up $name $work || exit 1
repo=${MAIM_TEST_REGISTRY:-127.0.0.1:5001}/$name-bot
m() { local f=$1; shift; "$root/bin/docker-maim" "$@" >"$out/$f.json" 2>"$out/$f.stderr"; echo "$f: exit $?"; }
G=(--stable-period 2s --timeout 2m)
sleep 3
m projects projects --format json
m status-fresh -p $name status --format json
m backup -p $name backup --format json --progress json
m backups -p $name backups --format json
m verify -p $name verify --format json
m upgrade-dry-run -p $name upgrade --dry-run --image bot=$repo:2.0.0 --format json
m upgrade-refused -p $name upgrade --image bot=$repo:2.0.0 --format json "${G[@]}"
m upgrade-upgraded -p $name upgrade --accept-breaking --image bot=$repo:2.0.0 --format json --progress json "${G[@]}"
m status-upgraded -p $name status --format json
m rollback -p $name rollback --format json --progress json "${G[@]}"
m upgrade-rolled-back -p $name upgrade --accept-breaking --image bot=$repo:2.1.0 --format json --progress json "${G[@]}"
m prune-dry-run -p $name prune --dry-run --format json
m backups-after -p $name backups --format json
m error-no-project -p nosuchproject$$ status --format json
sed -i "s#$work#/tmp/maim-ext-fx#g; s#$name#maibot#g" "$out"/*
