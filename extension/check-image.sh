#!/usr/bin/env bash
# check-image.sh IMAGE: the extension image carries metadata.json naming a dashboard tab and
# a host binary per OS and CPU, the files it names, and every label the Marketplace requires.
set -euo pipefail
img=$1
fail() { echo "check-image: $*" >&2; exit 1; }
labels=$(docker image inspect -f '{{json .Config.Labels}}' "$img")
for l in org.opencontainers.image.title org.opencontainers.image.description org.opencontainers.image.vendor \
  com.docker.desktop.extension.api.version com.docker.desktop.extension.icon com.docker.extension.screenshots \
  com.docker.extension.detailed-description com.docker.extension.publisher-url com.docker.extension.changelog \
  com.docker.extension.categories; do
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); sys.exit(0 if v else 1)' "$labels" "$l" || fail "label $l missing"
done
python3 -c 'import json,sys; json.loads(json.loads(sys.argv[1])["com.docker.extension.screenshots"])' "$labels" || fail "screenshots label is not JSON"
dir=$(mktemp -d); trap 'rm -rf "$dir"; docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
cid=$(docker create "$img" /none)
docker export "$cid" | tar -x -C "$dir"
python3 - "$dir" <<'PY' || fail "metadata.json"
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "metadata.json")))
tab = m["ui"]["dashboard-tab"]
assert os.path.isfile(os.path.join(d, tab["root"].lstrip("/"), tab["src"])), "ui index missing"
assert os.path.isfile(os.path.join(d, m["icon"])), "icon missing"
seen = set()
for entry in m["host"]["binaries"]:
    for osname, paths in entry.items():
        for p in paths:
            f = os.path.join(d, p["path"].lstrip("/"))
            assert os.path.isfile(f) and os.path.getsize(f) > 1000000, f + " missing"
            assert os.path.basename(f) == ("docker-maim.exe" if osname == "windows" else "docker-maim"), f
            seen.add((osname, p["path"].split("/")[2]))
want = {(o, a) for o in ("darwin", "linux", "windows") for a in ("amd64", "arm64")}
assert seen == want, "host binaries: %s" % sorted(seen)
PY
echo "check-image: $img: labels, metadata.json, UI, icon and 6 host binaries present"
