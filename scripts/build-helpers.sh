#!/usr/bin/env bash
# Builds the helper program (./cmd/maim-helper) for every architecture docker-maim embeds
# (internal/volume/helperbin, see its README): static linux binaries, whatever the host is.
# Idempotent and cheap when nothing changed (the go build cache).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=internal/volume/helperbin
for arch in amd64 arm64; do
	f=$out/maim-helper-linux-$arch
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOTOOLCHAIN=${GOTOOLCHAIN:-local} \
		"$GO" build -trimpath -ldflags "-s -w" -o "$f.tmp" ./cmd/maim-helper
	if cmp -s "$f.tmp" "$f"; then rm -f "$f.tmp"; else mv -f "$f.tmp" "$f"; fi
done
