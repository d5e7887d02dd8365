#!/usr/bin/env bash
# Installs what the tests need beyond the rig (scripts/rig.sh) when it is missing, from Debian's
# packages: a C compiler (test/e2e builds the plugin with cgo on too), chromium and a CJK font
# (the extension's browser test drives Debian's chromium; no browser is downloaded). Idempotent.
set -euo pipefail
missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v chromium >/dev/null || missing+=(chromium)
# A CJK font: the browser test's Chinese screenshots are read by people, not only by asserts.
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
# npm also brings the PostgreSQL servers of the test database images (scripts/db-images.sh,
# which installs the libraries its Debian packages need itself: they follow those packages).
command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
echo "test-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
