#!/usr/bin/env bash
# bench_lib.sh: what the `make bench` part scripts share, sourced (never run) by
# scripts/bench_rollback.sh and scripts/bench_incremental.sh:
#   bench_cleanup_on_exit FN   FN runs once when the script ends, also on failure and on
#                              Ctrl-C / TERM (exit 130 / 143), errexit off, the exit status kept
#   bench_plugin_config DIR [BINARY]
#                              a docker config dir of its own with docker-maim (BINARY, or
#                              built from this tree) and the installed docker-compose
# It defines functions only: sourcing it changes nothing else.

# bench_cleanup_on_exit FN: trap the script's end (EXIT, and INT/TERM as 130/143) so that FN
# runs once, with `set +e` (a cleanup step that fails does not stop the others), and the
# script then exits with the status it was ending with.
bench_cleanup_on_exit() {
  _bench_cleanup=$1
  trap _bench_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

_bench_on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  "$_bench_cleanup"
  exit "$rc"
}

# bench_plugin_config DIR [BINARY]: make DIR a docker config dir whose cli-plugins hold
# docker-maim (BINARY copied, else built from this tree: run from the repository's root,
# `make helpers` first) and the installed docker-compose plugin (linked, when one is found),
# so that `DOCKER_CONFIG=DIR docker maim` runs that build and the installed plugin is left
# alone. Returns non-zero when the copy or the build fails.
bench_plugin_config() {
  local dir=$1 bin=${2:-} c
  mkdir -p "$dir/cli-plugins" || return 1
  if [ -n "$bin" ]; then
    cp "$bin" "$dir/cli-plugins/docker-maim" || return 1
  else
    GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$dir/cli-plugins/docker-maim" ./cmd/docker-maim || return 1
  fi
  for c in "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose; do
    if [ -x "$c" ]; then
      ln -s "$c" "$dir/cli-plugins/docker-compose"
      break
    fi
  done
  return 0
}
