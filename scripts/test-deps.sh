#!/usr/bin/env bash
# Installs every Debian package a test run needs when it is missing, in one step: the rig's
# (scripts/rig.sh install: the engine, the registry, busybox-static, zstd, sqlite3, curl), a C
# compiler (test/e2e builds the plugin with cgo on too), chromium and a CJK font (the
# extension's browser test drives Debian's chromium; no browser is downloaded), age (the
# interop test decrypts our sealed archives with Debian's age CLI), patchelf and npm (the
# test database images, scripts/db-images.sh). Idempotent.
#
# apt-get holds a lock: two at once fail. `make test` runs this first and alone; of the steps
# it then runs at once (make -j) only scripts/db-images.sh may still call apt-get (for the
# libraries its .deb files depend on), and nothing else does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/rig.sh install
missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v chromium >/dev/null || missing+=(chromium)
# A CJK font: the browser test's Chinese screenshots are read by people, not only by asserts.
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
# npm also brings the PostgreSQL servers of the test database images (scripts/db-images.sh,
# which installs the libraries its Debian packages need itself: they follow those packages).
command -v npm >/dev/null || missing+=(nodejs npm)
command -v age >/dev/null || missing+=(age)
command -v patchelf >/dev/null || missing+=(patchelf)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
echo "test-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
