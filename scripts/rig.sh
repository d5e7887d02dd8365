#!/usr/bin/env bash
# rig.sh: the test rig for docker-maim. Installs (Debian packages) and starts a Docker
# engine and a loopback registry when they are not already there, idempotently.
#
#   scripts/rig.sh up     install what is missing, start what is not running
#   scripts/rig.sh install
#                         only install the Debian packages that are missing (apt-get); nothing
#                         started. scripts/test-deps.sh calls it so that every apt-get of a test
#                         run happens in one step, before the steps that run at once (make -j)
#   scripts/rig.sh down   stop only what an earlier "up" started
#   scripts/rig.sh env    print the environment the tests read (MAIM_TEST_REGISTRY)
#   scripts/rig.sh restart-engine
#                         stop the engine an earlier "up" started (SIGTERM: the daemon stops its
#                         containers, as a service restart does) and start it again; refused
#                         (exit 3) for an engine this rig did not start. The engine-restart test
#                         uses it.
#   scripts/rig.sh owns-engine
#                         exit 0 when the running engine is one this rig started, 1 otherwise
#
# State lives in $MAIM_RIG_DIR (default /tmp/maim-rig): pid files of what we started.
set -euo pipefail

RIG_DIR=${MAIM_RIG_DIR:-/tmp/maim-rig}
REGISTRY_ADDR=${MAIM_TEST_REGISTRY:-127.0.0.1:5001}
mkdir -p "$RIG_DIR"

log() { printf 'rig: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

need_pkgs() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
  [ -x /bin/busybox ] && file_is_static /bin/busybox || missing+=(busybox-static)
  command -v zstd >/dev/null 2>&1 || missing+=(zstd)
  command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # policy-rc.d keeps the packages from starting their own daemons where invoke-rc.d is honoured.
    as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$RIG_DIR/apt.log" 2>&1 \
      || { cat "$RIG_DIR/apt.log" >&2; exit 1; }
  fi
}

file_is_static() {
  # busybox-static ships /bin/busybox statically linked; the dynamic busybox package does not do.
  ! ldd "$1" >/dev/null 2>&1
}

engine_up() {
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    log "engine already reachable ($(docker version --format '{{.Server.Version}}'))"
    return
  fi
  if [ -n "${DOCKER_HOST:-}" ]; then
    log "DOCKER_HOST=$DOCKER_HOST is set but unreachable; not starting a local engine"; exit 1
  fi
  if ! pgrep -x containerd >/dev/null 2>&1 && command -v containerd >/dev/null; then
    :
  fi
  log "starting dockerd"
  # setsid: the engine outlives the session and process group of whoever started it (a test
  # that restarts the engine, a Ctrl-C in the terminal).
  as_root bash -c "setsid nohup dockerd --host=unix:///var/run/docker.sock --storage-driver=overlay2 \
      >'$RIG_DIR/dockerd.log' 2>&1 & echo \$! >'$RIG_DIR/dockerd.pid'"
  for _ in $(seq 1 120); do
    if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
      log "engine up ($(docker version --format '{{.Server.Version}}'))"; return
    fi
    sleep 0.5
  done
  log "dockerd did not come up; its log:"; tail -n 40 "$RIG_DIR/dockerd.log" >&2; exit 1
}

registry_up() {
  if curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; then
    log "registry already answers on $REGISTRY_ADDR"; return
  fi
  mkdir -p "$RIG_DIR/registry-data"
  cat >"$RIG_DIR/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $RIG_DIR/registry-data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
YML
  log "starting registry on $REGISTRY_ADDR"
  nohup /usr/bin/docker-registry serve "$RIG_DIR/registry.yml" >"$RIG_DIR/registry.log" 2>&1 &
  echo $! >"$RIG_DIR/registry.pid"
  for _ in $(seq 1 60); do
    curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && { log "registry up"; return; }
    sleep 0.25
  done
  log "registry did not come up:"; cat "$RIG_DIR/registry.log" >&2; exit 1
}

compose_up() {
  # The tests, the demo and the benchmark drive projects with the real `docker compose`.
  # Debian has no compose v2+ package: build compose v5.6.0 (the version docker-maim links)
  # from the Go module proxy into the CLI plugin dir, once.
  if docker compose version >/dev/null 2>&1; then return; fi
  local plugdir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  local work="$RIG_DIR/compose-build"
  log "building docker compose v5.6.0 into $plugdir"
  mkdir -p "$work" "$plugdir"
  cat >"$work/go.mod" <<MOD
module maim.local/composebuild

go 1.26.8

require github.com/docker/compose/v5 v5.6.0
MOD
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/docker/compose/v5/cmd"\n' >"$work/tools.go"
  (cd "$work" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 &&
    GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 go build \
      -ldflags "-X github.com/docker/compose/v5/internal.Version=v5.6.0" \
      -o "$plugdir/docker-compose" github.com/docker/compose/v5/cmd)
  docker compose version >/dev/null || { log "docker compose still missing"; exit 1; }
}

# owns_engine: the running engine is the one an earlier "up" started.
owns_engine() {
  [ -f "$RIG_DIR/dockerd.pid" ] && kill -0 "$(cat "$RIG_DIR/dockerd.pid")" 2>/dev/null
}

stop_pidfile() {
  local f=$1 name=$2
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name ($pid)"
    as_root kill "$pid" || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && as_root kill -9 "$pid" || true
  fi
  rm -f "$f"
}

install_pkgs() {
  command -v curl >/dev/null || { as_root apt-get update -qq; as_root apt-get install -y -qq curl; }
  need_pkgs
}

case "${1:-up}" in
  install)
    install_pkgs
    ;;
  up)
    install_pkgs
    engine_up
    registry_up
    compose_up
    ;;
  down)
    stop_pidfile "$RIG_DIR/registry.pid" registry
    stop_pidfile "$RIG_DIR/dockerd.pid" dockerd
    ;;
  env)
    echo "MAIM_TEST_REGISTRY=$REGISTRY_ADDR"
    ;;
  owns-engine)
    owns_engine
    ;;
  restart-engine)
    if ! owns_engine; then
      log "the engine was not started by this rig ($RIG_DIR): not restarting it"; exit 3
    fi
    stop_pidfile "$RIG_DIR/dockerd.pid" dockerd
    engine_up
    ;;
  *) echo "usage: $0 up|install|down|env|owns-engine|restart-engine" >&2; exit 2 ;;
esac
