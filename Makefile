# docker-maim: build, install, demo, test, bench. Every target that needs an engine
# brings up the test rig (scripts/rig.sh) first; nothing is assumed to be running.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/docker-maim/docker-maim/internal/plugin.Version=$(VERSION)
PLUGIN_DIR ?= $(or $(DOCKER_CONFIG),$(HOME)/.docker)/cli-plugins
GO ?= go
export GOTOOLCHAIN := local
export CGO_ENABLED := 0

.PHONY: build helpers install rig rig-down demo test test-engine-restart unit e2e fuzz bench vet clean db-images s3-rig

## helpers: the helper program (cmd/maim-helper) for linux/amd64 and linux/arm64, into
## internal/volume/helperbin, where every docker-maim build embeds it
helpers:
	GO=$(GO) bash scripts/build-helpers.sh

build: helpers
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/docker-maim ./cmd/docker-maim

## install: put the plugin where the docker CLI finds it (~/.docker/cli-plugins)
install: build
	mkdir -p $(PLUGIN_DIR)
	install -m 0755 bin/docker-maim $(PLUGIN_DIR)/docker-maim

## docs: the command reference, docs/reference/*.md, generated from the commands (cmd/maim-docs,
## docker's cli-docs-tool); `go test ./cmd/maim-docs` (in `make test`) fails when it is out of date
.PHONY: docs
docs:
	$(GO) run ./cmd/maim-docs docs/reference

## rig: install and start a Docker engine, a loopback registry and docker compose (idempotent)
rig:
	bash scripts/rig.sh up

## test-deps: every Debian package the tests need, when missing, in one apt-get step (the rig's,
## gcc, chromium, age, npm, patchelf: scripts/test-deps.sh)
test-deps:
	bash scripts/test-deps.sh

rig-down:
	bash scripts/rig.sh down

## s3-rig: SeaweedFS's weed, the S3 server internal/backup/s3's tests start on loopback, built
## from the Go module proxy once and cached (scripts/s3-rig.sh prints where)
s3-rig:
	GO=$(GO) bash scripts/s3-rig.sh

## demo: a sample project upgraded v1 -> v2, rolled back, and a failed upgrade rolling itself back
demo: rig install
	bash scripts/demo.sh

## vet: after helpers, which writes the files internal/volume embeds
vet: helpers
	$(GO) vet ./...

## db-images: the real database servers the tests run (maim-test-postgres:15/16/17,
## maim-test-mariadb:10.11), built FROM scratch only when missing or stale and kept between
## runs (scripts/db-images.sh; test/dbimage/README.md)
db-images: rig test-deps
	bash scripts/db-images.sh

## test-prereqs: what the tests need, the independent parts at once. Every Debian package first
## and alone (test-deps: apt-get holds a lock, two at once fail); then, as make -j jobs whose
## output is printed whole as each ends (--output-sync), the rig (engine, registry, compose),
## weed (s3-rig: minutes of Go compiling on a fresh machine), the helpers and vet, the
## extension's npm packages, and the database images once the engine is up (db-images, the
## only one that may still call apt-get). A failing job fails the step.
PREREQ_JOBS ?= 6
.PHONY: test-prereqs
test-prereqs:
	bash scripts/test-deps.sh
	$(MAKE) --no-print-directory -j$(PREREQ_JOBS) --output-sync=target rig s3-rig vet db-images extension-npm

## test: every test, the end-to-end ones against the real engine and registry included; the
## images the run made are removed when it ends, also when a test fails (scripts/test-images.sh).
## TEST_PARALLEL: how many t.Parallel tests of one package run at once (go test -parallel; unset:
## GOMAXPROCS, as go test's default). Raising it is not safe yet: tests that read the engine's
## events back (its ring keeps only the last 256) lose them when more tests run at once. Each
## phase prints how long it took.
TEST_PARALLEL ?=
TEST_FLAGS := -count=1 -timeout 45m $(if $(TEST_PARALLEL),-parallel $(TEST_PARALLEL))
test:
	@set -e; s=$$(date +%s); $(MAKE) --no-print-directory test-prereqs; echo "test: prerequisites took $$(($$(date +%s) - s)) s"
	@bash scripts/test-images.sh snapshot
	@trap 'bash scripts/test-images.sh clean' EXIT; set -e; \
	s=$$(date +%s); \
	echo "MAIM_REQUIRE_HELPERS=1 MAIM_REQUIRE_S3=1 $(GO) test $(TEST_FLAGS) ./..."; \
	MAIM_REQUIRE_HELPERS=1 MAIM_REQUIRE_S3=1 $(GO) test $(TEST_FLAGS) ./...; \
	echo "test: go test ./... took $$(($$(date +%s) - s)) s"; s=$$(date +%s); \
	$(MAKE) test-engine-restart; \
	echo "test: test-engine-restart took $$(($$(date +%s) - s)) s"; s=$$(date +%s); \
	$(MAKE) fuzz; \
	echo "test: fuzz took $$(($$(date +%s) - s)) s"; s=$$(date +%s); \
	$(MAKE) test-extension; \
	echo "test: test-extension took $$(($$(date +%s) - s)) s"

## test-engine-restart: the upgrade across an engine restart; alone, since it restarts the
## engine every other test uses. It only restarts an engine scripts/rig.sh started: with any
## other engine it is skipped (with a notice), or fails when MAIM_REQUIRE_ENGINE_RESTART is
## set (.ci/run sets it).
test-engine-restart: rig
	@if bash scripts/rig.sh owns-engine; then \
		echo "MAIM_TEST_ENGINE_RESTART=1 $(GO) test -count=1 -timeout 20m -run '^TestEngineRestart' ./test/e2e"; \
		MAIM_TEST_ENGINE_RESTART=1 $(GO) test -count=1 -timeout 20m -run '^TestEngineRestart' ./test/e2e; \
	elif [ -n "$$MAIM_REQUIRE_ENGINE_RESTART" ]; then \
		echo "test-engine-restart: the engine was not started by scripts/rig.sh ($${MAIM_RIG_DIR:-/tmp/maim-rig}), so it cannot be restarted" >&2; exit 1; \
	else \
		echo "test-engine-restart: SKIPPED: the engine was not started by scripts/rig.sh ($${MAIM_RIG_DIR:-/tmp/maim-rig}); not restarting someone else's engine"; \
	fi

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzMergeTOML$$' -fuzztime=40000x ./internal/config
	$(GO) test -run='^$$' -fuzz='^FuzzMergeDotenv$$' -fuzztime=40000x ./internal/config
	$(GO) test -run='^$$' -fuzz='^FuzzComposeMerge$$' -fuzztime=1500x ./internal/composemerge
	$(GO) test -run='^$$' -fuzz='^FuzzSeekTable$$' -fuzztime=20000x ./internal/seektar

## bench: backup/restore and upgrade downtime against host tar|zstd, busybox tar and docker compose
bench: rig install
	bash scripts/bench.sh

clean:
	rm -rf bin

## cross: the plugin for every host Desktop runs on (darwin, linux, windows; amd64, arm64), into bin/
CROSS_TARGETS := darwin/amd64 darwin/arm64 linux/amd64 linux/arm64 windows/amd64 windows/arm64
.PHONY: cross
cross: helpers
	@set -e; for t in $(CROSS_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "GOOS=$$os GOARCH=$$arch -> bin/docker-maim-$$os-$$arch$$ext"; \
		GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/docker-maim-$$os-$$arch$$ext ./cmd/docker-maim; \
	done

## extension: the Docker Desktop extension image (extension/): the UI built, docker-maim
## cross-built for every host Desktop runs on, into one image (EXT_IMAGE)
EXT_IMAGE ?= docker-maim/desktop-extension:$(VERSION)
.PHONY: extension extension-ui extension-install test-extension extension-npm
## extension-npm: the UI's npm packages (npm ci), again only when package-lock.json changed
## (npm ci writes node_modules/.package-lock.json last)
extension-npm: extension/ui/node_modules/.package-lock.json
extension/ui/node_modules/.package-lock.json: extension/ui/package-lock.json
	cd extension/ui && npm ci --no-audit --no-fund
extension-ui: extension-npm
	cd extension/ui && npm run build
extension: extension-ui cross
	@set -e; rm -rf extension/host; for t in $(CROSS_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		mkdir -p extension/host/$$os/$$arch; \
		cp bin/docker-maim-$$os-$$arch$$ext extension/host/$$os/$$arch/docker-maim$$ext; \
	done
	docker build -t $(EXT_IMAGE) extension
	bash extension/check-image.sh $(EXT_IMAGE)

## release: the release in $(DIST), versioned from the git tag (VERSION, `git describe`; tag
## v0.1.0 -> docker-maim_0.1.0_linux_amd64.tar.gz): per Desktop host (CROSS_TARGETS) an archive
## (tar.gz; zip for windows) with the plugin as the docker CLI names it (docker-maim,
## docker-maim.exe), LICENSE and README.md; the extension image (EXT_IMAGE, built and checked
## by `extension`: npm and a Docker engine, FROM scratch so nothing is pulled) saved as
## docker-maim-desktop-extension_VERSION.tar.gz; SHA256SUMS; then every file is read back and
## checked (scripts/release.sh). release-archives: the same without the extension image.
DIST ?= dist
.PHONY: release release-archives
release: cross extension
	VERSION=$(VERSION) DIST=$(DIST) CROSS_TARGETS="$(CROSS_TARGETS)" GO=$(GO) bash scripts/release.sh --image $(EXT_IMAGE)
release-archives: cross
	VERSION=$(VERSION) DIST=$(DIST) CROSS_TARGETS="$(CROSS_TARGETS)" GO=$(GO) bash scripts/release.sh

## extension-install: install the image into Docker Desktop (needs Desktop's `docker extension`)
extension-install:
	@if docker extension ls >/dev/null 2>&1; then \
		docker image inspect $(EXT_IMAGE) >/dev/null 2>&1 || $(MAKE) extension; \
		docker extension install -f $(EXT_IMAGE); \
	else echo "extension-install: Docker Desktop is needed (no \`docker extension\` here); the image $(EXT_IMAGE) is built"; fi

## test-extension: the UI's unit tests, the browser test against the real binary and engine, the image
## The image `extension` built for the check is removed afterwards, also when a test fails.
test-extension: rig test-deps build extension
	@trap 'docker image rm $(EXT_IMAGE) >/dev/null 2>&1 || true' EXIT; set -e; \
	echo "cd extension/ui && npx vitest run"; (cd extension/ui && npx vitest run); \
	echo "cd extension/ui && node e2e/browser.test.mjs"; (cd extension/ui && node e2e/browser.test.mjs)
