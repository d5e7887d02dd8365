#!/usr/bin/env bash
# bot-images.sh REPO VERSION[:ENV=VALUE] ...
# Builds the stand-in bot (test/standin-bot) into FROM scratch images REPO:VERSION, pushes
# them to the loopback registry and removes the local copies, so that a later pull is real.
# VERSION:ENV=VALUE bakes an environment variable into that image (a release that fails).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$1; shift
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp test/standin-bot/Dockerfile "$ctx/"
cp -r test/standin-bot/templates test/standin-bot/locales "$ctx/"
for spec in "$@"; do
  version=${spec%%:*}
  env=""
  [ "$spec" != "$version" ] && env=${spec#*:}
  base=$(ls test/standin-bot/templates | sed 's/\.toml$//' | sort -V | awk -v v="$version" '$0<=v' | tail -n1)
  [ -f "$ctx/templates/$version.toml" ] || sed "s/^version = \".*\"/version = \"$version\"/" "test/standin-bot/templates/$base.toml" >"$ctx/templates/$version.toml"
  CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/bot" ./test/standin-bot
  cp "$ctx/Dockerfile" "$ctx/Dockerfile.build"
  [ -n "$env" ] && echo "ENV $env" >>"$ctx/Dockerfile.build"
  DOCKER_BUILDKIT=0 docker build -q -f "$ctx/Dockerfile.build" --build-arg VERSION="$version" -t "$repo:$version" "$ctx" >"$ctx/build.log" 2>&1 \
    || { cat "$ctx/build.log" >&2; exit 1; }
  docker push -q "$repo:$version" >/dev/null
  docker rmi "$repo:$version" >/dev/null
  echo "pushed $repo:$version${env:+ (with $env)}"
done
