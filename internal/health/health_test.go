package health_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/project"

	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
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
	err := health.Wait(context.Background(), p.Client, p.Name, health.Options{Timeout: 90 * time.Second, StablePeriod: 30 * time.Second})
	f := mustFail(t, err, "bot", "")
	if !strings.Contains(f.Reason, "restart") && !strings.Contains(f.Reason, "exited with code 1") {
		t.Fatalf("reason %q", f.Reason)
	}
	if !hasLine(f.Logs, "crashing on purpose") || len(f.Logs) > health.LogLines {
		t.Fatalf("logs (%d): %q", len(f.Logs), f.Logs)
	}
	// Caught as a crash, not by the timeout; and a failure at all means before the 30s
	// stable period ended (a passed service is done). No wall-clock bound: the engine's
	// restart backoff grows while a busy machine starts the gate late.
	if strings.HasPrefix(f.Reason, "not ready after") {
		t.Fatalf("crash loop reported as a timeout: %q", f.Reason)
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
	err := health.Wait(context.Background(), p.Client, p.Name, health.Options{Timeout: 2 * time.Minute})
	f := mustFail(t, err, "bot", "unhealthy")
	if strings.HasPrefix(f.Reason, "not ready after") { // failed on the engine's "unhealthy", not the timeout
		t.Fatalf("unhealthy reported as a timeout: %q", f.Reason)
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
	before := engineNow(t, p)
	if err := health.Wait(context.Background(), p.Client, p.Name, opts); err != nil {
		t.Fatal(err)
	}
	// Order as the engine reports it, never this machine's time since a point of the test
	// (the container may well have logged its line before the gate began, on a busy machine).
	passed := engineNow(t, p)
	slow := inspectService(t, p, "slow")
	started := engineTime(t, slow.State.StartedAt)
	ready, ok := logTime(t, p, slow.ID, "bot ready version=1.0.0")
	if !ok {
		t.Fatalf("the gate passed at %s, but slow (started %s) has not logged its ready line", passed, started)
	}
	if ready.After(passed) {
		t.Fatalf("the gate passed at %s, before slow logged its ready line at %s", passed, ready)
	}
	if d := ready.Sub(started); d < 3*time.Second { // the stand-in waits BOT_SLOW_SECONDS=4 first
		t.Fatalf("slow logged ready %s after its start: the stand-in did not delay, the test proves nothing", d)
	}
	init := inspectService(t, p, "init")
	if init.State.Status != "exited" || init.State.ExitCode != 0 {
		t.Fatalf("the gate passed with the one-shot init %s (exit code %d)", init.State.Status, init.State.ExitCode)
	}
	if finished := engineTime(t, init.State.FinishedAt); finished.After(passed) {
		t.Fatalf("the gate passed at %s, before the one-shot init finished at %s", passed, finished)
	}
	t.Logf("ready line %s after the start; the gate began %s before it", ready.Sub(started).Round(time.Millisecond), ready.Sub(before).Round(time.Millisecond))

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

// engineNow is the engine's clock now (SystemTime of /info), to order the test's steps
// against the timestamps the engine records.
func engineNow(t *testing.T, p *testrig.Proj) time.Time {
	t.Helper()
	res, err := p.Client.Info(context.Background(), client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return engineTime(t, res.Info.SystemTime)
}

func engineTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("engine timestamp %q: %v", s, err)
	}
	return v
}

// inspectService inspects the one container of service svc.
func inspectService(t *testing.T, p *testrig.Proj, svc string) container.InspectResponse {
	t.Helper()
	ctx := context.Background()
	list, err := p.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", project.LabelProject+"="+p.Name).Add("label", project.LabelService+"="+svc)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("service %s has %d containers, want 1", svc, len(list.Items))
	}
	res, err := p.Client.ContainerInspect(ctx, list.Items[0].ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container
}

// logTime is the engine's timestamp of the first log line of container id holding sub
// (what `docker logs --timestamps` shows).
func logTime(t *testing.T, p *testrig.Proj, id, sub string) (time.Time, bool) {
	t.Helper()
	rc, err := p.Client.ContainerLogs(context.Background(), id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		stamp, text, _ := strings.Cut(line, " ")
		if strings.Contains(text, sub) {
			return engineTime(t, stamp), true
		}
	}
	return time.Time{}, false
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
