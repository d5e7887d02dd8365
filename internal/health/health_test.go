package health_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/testrig"
)

// up starts a project from composeYAML and returns it.
func up(t *testing.T, name, composeYAML string) *testrig.Proj {
	t.Helper()
	p := testrig.Project(t, name, composeYAML)
	testrig.Compose(t, p, "up", "-d")
	return p
}

// progress records the gate's progress events.
type progress struct {
	mu     sync.Mutex
	events []string
}

func (p *progress) add(svc, state string) {
	p.mu.Lock()
	p.events = append(p.events, svc+": "+state)
	p.mu.Unlock()
}

func (p *progress) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.events, "; ")
}

func mustFail(t *testing.T, err error, service, reason string) *health.Failure {
	t.Helper()
	var f *health.Failure
	if !errors.As(err, &f) {
		t.Fatalf("want a *health.Failure, got %v", err)
	}
	if f.Service != service || !strings.Contains(f.Reason, reason) {
		t.Fatalf("failure = %+v, want service %q reason containing %q", f, service, reason)
	}
	return f
}

func hasLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func TestHealthyPasses(t *testing.T) {
	t.Parallel()
	p := up(t, "health-ok", `services:
  bot:
    image: {{bot:1.0.0}}
    healthcheck:
      start_period: 5s
`)
	var pr progress
	err := health.Wait(context.Background(), p.Client, p.Name, health.Options{Timeout: 90 * time.Second, Progress: pr.add})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pr.String(), "bot: healthy") || !strings.Contains(pr.String(), "health starting") {
		t.Fatalf("progress: %s", pr.String())
	}
}

func TestCrashFailsWithLogs(t *testing.T) {
	t.Parallel()
	p := up(t, "health-crash", `services:
  bot:
    image: {{bot:2.0.0}}
    restart: unless-stopped
    environment:
      BOT_FAIL: crash
  fine:
    image: {{bot:2.0.0}}
    healthcheck:
      disable: true
`)
	t0 := time.Now()
	err := health.Wait(context.Background(), p.Client, p.Name, health.Options{Timeout: 90 * time.Second, StablePeriod: 30 * time.Second})
	f := mustFail(t, err, "bot", "")
	if !strings.Contains(f.Reason, "restart") && !strings.Contains(f.Reason, "exited with code 1") {
		t.Fatalf("reason %q", f.Reason)
	}
	if !hasLine(f.Logs, "crashing on purpose") || len(f.Logs) > health.LogLines {
		t.Fatalf("logs (%d): %q", len(f.Logs), f.Logs)
	}
	if el := time.Since(t0); el > 25*time.Second {
		t.Fatalf("crash loop detected only after %s", el)
	}
	if !strings.HasPrefix(f.Container, p.Name) || !strings.Contains(err.Error(), "service bot") {
		t.Fatalf("container %q, error %q", f.Container, err)
	}
}

func TestUnhealthyFailsFast(t *testing.T) {
	t.Parallel()
	p := up(t, "health-unhealthy", `services:
  bot:
    image: {{bot:1.0.0}}
    environment:
      BOT_FAIL: unhealthy
    healthcheck:
      start_period: 1s
`)
	t0 := time.Now()
	err := health.Wait(context.Background(), p.Client, p.Name, health.Options{Timeout: 2 * time.Minute})
	f := mustFail(t, err, "bot", "unhealthy")
	if el := time.Since(t0); el > time.Minute {
		t.Fatalf("unhealthy detected only after %s", el)
	}
	if !hasLine(f.Logs, "bot ready version=1.0.0") {
		t.Fatalf("logs: %q", f.Logs)
	}
}

func TestNoHealthcheckStableAndRestarting(t *testing.T) {
	t.Parallel()
	p := up(t, "health-stable", `services:
  steady:
    image: {{bot:1.1.0}}
    restart: always
    healthcheck:
      disable: true
  flaky:
    image: {{bot:1.1.0}}
    restart: always
    healthcheck:
      disable: true
    environment:
      BOT_FAIL: crash-after
      BOT_CRASH_AFTER: "2"
`)
	// flaky looks fine for 2s, then restarts: the stable period must catch it.
	err := health.Wait(context.Background(), p.Client, p.Name, health.Options{
		Timeout: time.Minute, StablePeriod: 8 * time.Second, Services: []string{"flaky"}})
	f := mustFail(t, err, "flaky", "restart")
	if !hasLine(f.Logs, "crash-after") {
		t.Fatalf("logs: %q", f.Logs)
	}
	// steady passes, but only after the stable period.
	t0 := time.Now()
	if err := health.Wait(context.Background(), p.Client, p.Name, health.Options{
		Timeout: time.Minute, StablePeriod: 4 * time.Second, Services: []string{"steady"}}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 4*time.Second {
		t.Fatalf("passed after %s, before the stable period", el)
	}
}

func TestReadyLogAndOneShotFromExtension(t *testing.T) {
	t.Parallel()
	p := up(t, "health-ready", `services:
  slow:
    image: {{bot:1.0.0}}
    healthcheck:
      disable: true
    environment:
      BOT_FAIL: slow
      BOT_SLOW_SECONDS: "4"
    x-maim:
      ready_log: "bot ready version=1.0.0"
  init:
    image: {{bot:1.0.0}}
    command: ["version"]
    x-maim:
      one_shot: true
      notes_url: https://example.invalid/ignored-by-health
`)
	proj := load(t, p)
	opts, err := health.FromProject(proj, health.Options{Timeout: time.Minute, StablePeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	if opts.ReadyLog["slow"] != "bot ready version=1.0.0" || !opts.OneShot["init"] {
		t.Fatalf("options from x-maim: %+v", opts)
	}
	t0 := time.Now()
	if err := health.Wait(context.Background(), p.Client, p.Name, opts); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 2*time.Second {
		t.Fatalf("passed after %s: the ready log comes after 4s", el)
	}

	// A ready line that never comes: timeout naming the service and what it waited for.
	opts.ReadyLog["slow"] = "never printed"
	opts.Timeout = 4 * time.Second
	err = health.Wait(context.Background(), p.Client, p.Name, opts)
	f := mustFail(t, err, "slow", `ready log "never printed"`)
	if !hasLine(f.Logs, "bot ready") {
		t.Fatalf("logs: %q", f.Logs)
	}
}

func TestOneShotFailsOnNonZeroExit(t *testing.T) {
	t.Parallel()
	p := up(t, "health-oneshot", `services:
  migrate:
    image: {{bot:1.0.0}}
    command: ["healthcheck"]
    restart: "no"
`)
	err := health.Wait(context.Background(), p.Client, p.Name, health.Options{Timeout: time.Minute})
	f := mustFail(t, err, "migrate", "exited with code 1")
	if !hasLine(f.Logs, "unhealthy") {
		t.Fatalf("logs: %q", f.Logs)
	}
}

func TestMissingService(t *testing.T) {
	t.Parallel()
	p := testrig.Project(t, "health-missing", "")
	err := health.Wait(context.Background(), p.Client, p.Name, health.Options{Timeout: 2 * time.Second, Services: []string{"ghost"}})
	mustFail(t, err, "ghost", "no container")
	err = health.Wait(context.Background(), p.Client, p.Name, health.Options{Timeout: 2 * time.Second})
	mustFail(t, err, "", "no containers")
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	p := testrig.Project(t, "health-cancel", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := health.Wait(ctx, p.Client, p.Name, health.Options{Timeout: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func load(t *testing.T, p *testrig.Proj) *types.Project {
	t.Helper()
	o, err := cli.NewProjectOptions([]string{p.File}, cli.WithName(p.Name), cli.WithWorkingDirectory(p.Dir))
	if err != nil {
		t.Fatal(err)
	}
	proj, err := o.LoadProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return proj
}
