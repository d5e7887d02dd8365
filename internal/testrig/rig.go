// Package testrig holds test-only helpers for docker-maim's end-to-end tests against a real
// Docker engine and a loopback registry (scripts/rig.sh up starts both).
//
//   - Require(t) returns an engine client, skipping the test when no engine answers and env CI is
//     unset (in CI an unreachable engine fails the test).
//   - Registry() is the loopback registry address (MAIM_TEST_REGISTRY, default 127.0.0.1:5001).
//   - BotImages(t) builds and pushes the stand-in bot images (test/standin-bot) once per content,
//     guarded by a file lock across test binaries, and returns version -> pushed reference.
//     The local tags are removed after the push, so whatever runs them pulls them.
//   - Project(t, name, composeYAML) makes a uniquely named compose project in a temp dir and
//     removes everything it made from the engine (containers, volumes, networks, images) when
//     the test ends, failed or not.
//   - Compose(t, p, args...) runs `docker compose` (the CLI plugin when installed, else the
//     compose v5 SDK for a subset of commands).
//   - TreeHash(t, dir, excludes...) hashes a directory tree for byte-identical comparisons.
//     For a readable list of what differs, the subpackage treediff describes two trees and
//     compares them (it imports nothing of the engine, so a package's unit tests use it too).
//
// Nothing here is imported by non-test code.
package testrig

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// DefaultRegistry is the loopback registry scripts/rig.sh starts.
const DefaultRegistry = "127.0.0.1:5001"

// Registry returns the test registry address: MAIM_TEST_REGISTRY or 127.0.0.1:5001.
func Registry() string {
	if r := os.Getenv("MAIM_TEST_REGISTRY"); r != "" {
		return r
	}
	return DefaultRegistry
}

// InCI reports whether the CI env var is set: then missing test infrastructure is a failure.
func InCI() bool { return os.Getenv("CI") != "" }

// skipOrFail skips the test outside CI and fails it in CI.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format+" (CI is set: not skipping)", args...)
	}
	t.Skipf(format, args...)
}

// Require returns a client for the engine named by the environment (DOCKER_HOST etc.), with
// API version negotiation, closed when the test ends. When the engine does not answer a ping
// within 10s the test is skipped, or failed when env CI is set.
func Require(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		skipOrFail(t, "testrig: docker client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		skipOrFail(t, "testrig: docker engine unreachable: %v", err)
	}
	return cli
}

// cleanupContext is for cleanups: the test's own context is already cancelled when they run.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}
