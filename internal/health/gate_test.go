package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/types/container"
)

// The gate's rules (the package doc) against a scripted engine on the gate's own clock: every
// test says what the engine shows when, and asserts the gate's answer and the moment of its
// own time it gave it.

func wantPass(t *testing.T, o outcome, at time.Duration, progress string) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("gate failed at %s: %v (progress %s)", o.at, o.err, o.progress)
	}
	if o.at != at {
		t.Errorf("passed at %s, want %s (progress %s)", o.at, at, o.progress)
	}
	if progress != "" && o.progress != progress {
		t.Errorf("progress\n %s\nwant\n %s", o.progress, progress)
	}
}

func wantFail(t *testing.T, o outcome, at time.Duration, service, reason string) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(o.err, &f) {
		t.Fatalf("want a *Failure at %s, got %v at %s (progress %s)", at, o.err, o.at, o.progress)
	}
	if f.Service != service || f.Reason != reason {
		t.Errorf("failure of %q: %q\nwant of %q: %q", f.Service, f.Reason, service, reason)
	}
	if o.at != at {
		t.Errorf("failed at %s, want %s", o.at, at)
	}
	return f
}

func svc(id, service string, at func(time.Duration) fakeState) fakeContainer {
	return fakeContainer{id: id, service: service, at: at}
}

func healthState(h container.HealthStatus) fakeState {
	return fakeState{status: container.StateRunning, health: h}
}

func exited(code int, policy container.RestartPolicyMode) fakeState {
	return fakeState{status: container.StateExited, exitCode: code, policy: policy}
}

// numbered is n log lines "line 1" ... "line n".
func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("line %d", i+1)
	}
	return out
}

// A healthcheck must report healthy; the gate waits while it starts.
func TestRuleHealthyPasses(t *testing.T) {
	e := newFakeEngine(svc("1", "web", until(20*time.Second, is(healthState(container.Starting)), is(healthState(container.Healthy)))))
	wantPass(t, e.run(Options{Timeout: time.Minute}), 20*time.Second, "web: waiting: health starting; web: healthy")
}

// "unhealthy" fails at once, with the last probe's first line and the last LogLines lines.
func TestRuleUnhealthyFailsAtOnce(t *testing.T) {
	sick := healthState(container.Unhealthy)
	sick.probe, sick.log = "connection refused\nsecond line", numbered(25)
	e := newFakeEngine(svc("1", "web", until(5*time.Second, is(healthState(container.Starting)), is(sick))))
	f := wantFail(t, e.run(Options{Timeout: time.Minute}), 5*time.Second, "web", "unhealthy: connection refused")
	if f.Container != "p-web-1" || len(f.Logs) != LogLines || f.Logs[0] != "line 6" || f.Logs[LogLines-1] != "line 25" {
		t.Errorf("failure carries container %q, logs %q", f.Container, f.Logs)
	}
	e = newFakeEngine(svc("1", "web", is(healthState(container.Unhealthy))))
	wantFail(t, e.run(Options{Timeout: time.Minute}), 0, "web", "unhealthy")
}

// Without a healthcheck a container must stay running for the stable period, measured on
// the gate's clock from when it first saw that start; a negative period means running once
// is enough.
func TestRuleStablePeriod(t *testing.T) {
	e := newFakeEngine(svc("1", "web", running))
	wantPass(t, e.run(Options{Timeout: time.Minute}), DefaultStablePeriod, "web: waiting: stable period; web: running and stable")
	e = newFakeEngine(svc("1", "web", running))
	wantPass(t, e.run(Options{Timeout: time.Minute, StablePeriod: 40 * time.Second}), 40*time.Second, "")
	e = newFakeEngine(svc("1", "web", running))
	wantPass(t, e.run(Options{Timeout: time.Minute, StablePeriod: -1}), 0, "web: running")

	// A container the gate first sees "created" is stable from when it saw it start.
	created := fakeState{status: container.StateCreated, startedAt: "0001-01-01T00:00:00Z"}
	started := fakeState{status: container.StateRunning, startedAt: "2026-08-01T00:00:07Z"}
	e = newFakeEngine(svc("1", "web", until(7*time.Second, is(created), is(started))))
	wantPass(t, e.run(Options{Timeout: time.Minute}), 7*time.Second+DefaultStablePeriod,
		"web: waiting: not started; web: waiting: stable period; web: running and stable")
}

// A restart of any container (its restart count or its start changed, or state
// "restarting") fails the service: a crash loop.
func TestRuleRestartLoopFails(t *testing.T) {
	again := fakeState{status: container.StateRunning, restarts: 1, exitCode: 1, startedAt: "2026-08-01T00:00:10Z"}
	e := newFakeEngine(svc("1", "web", until(10*time.Second, running, is(again))))
	wantFail(t, e.run(Options{Timeout: time.Minute}), 10*time.Second, "web", "restarted (restart count 0 -> 1, exit code 1)")

	restartedBy := fakeState{status: container.StateRunning, startedAt: "2026-08-01T00:00:05Z"}
	e = newFakeEngine(svc("1", "web", until(5*time.Second, running, is(restartedBy))))
	wantFail(t, e.run(Options{Timeout: time.Minute}), 5*time.Second, "web", "restarted (restart count 0 -> 0, exit code 0)")

	looping := fakeState{status: container.StateRestarting, exitCode: 137}
	e = newFakeEngine(svc("1", "web", until(3*time.Second, running, is(looping))))
	wantFail(t, e.run(Options{Timeout: time.Minute}), 3*time.Second, "web", "restarting (crash loop; last exit code 137)")

	// A restart is a restart even once the container is healthy again.
	healthyAgain := healthState(container.Healthy)
	healthyAgain.restarts = 2
	e = newFakeEngine(svc("1", "web", until(2*time.Second, is(healthState(container.Starting)), is(healthyAgain))))
	wantFail(t, e.run(Options{Timeout: time.Minute}), 2*time.Second, "web", "restarted (restart count 0 -> 2, exit code 0)")
}

// An exited service container fails unless it may finish (a declared one-shot, or restart
// policy "no" or "on-failure") and exited 0; a dead or removing one fails.
func TestRuleExited(t *testing.T) {
	oom := exited(2, container.RestartPolicyAlways)
	oom.oomKilled = true
	cases := []struct {
		name   string
		st     fakeState
		reason string // "" passes, "completed"
	}{
		{"code 1", exited(1, container.RestartPolicyDisabled), "exited with code 1"},
		{"OOM", oom, "exited with code 2 (OOM killed)"},
		{"code 0, always", exited(0, container.RestartPolicyAlways), `exited with code 0 but has restart policy "always" (declare it one_shot if it is meant to finish)`},
		{"code 0, unless-stopped", exited(0, container.RestartPolicyUnlessStopped), `exited with code 0 but has restart policy "unless-stopped" (declare it one_shot if it is meant to finish)`},
		{"code 0, no", exited(0, container.RestartPolicyDisabled), ""},
		{"code 0, on-failure", exited(0, container.RestartPolicyOnFailure), ""},
		{"dead", fakeState{status: container.StateDead}, "container is dead"},
		{"removing", fakeState{status: container.StateRemoving}, "container is removing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newFakeEngine(svc("1", "job", until(3*time.Second, running, is(c.st))))
			o := e.run(Options{Timeout: time.Minute})
			if c.reason == "" {
				wantPass(t, o, 3*time.Second, "job: waiting: stable period; job: completed")
				return
			}
			wantFail(t, o, 3*time.Second, "job", c.reason)
		})
	}
}

// A declared one-shot is waited for while it runs, whatever its restart policy, and must
// exit 0.
func TestRuleOneShot(t *testing.T) {
	oneShot := map[string]bool{"migrate": true}
	e := newFakeEngine(
		svc("1", "migrate", until(30*time.Second, running, is(exited(0, container.RestartPolicyAlways)))),
		svc("2", "web", running),
	)
	wantPass(t, e.run(Options{Timeout: time.Minute, StablePeriod: -1, OneShot: oneShot}), 30*time.Second,
		"migrate: waiting: running to completion; web: running; migrate: completed")

	e = newFakeEngine(svc("1", "migrate", until(30*time.Second, running, is(exited(3, container.RestartPolicyDisabled)))))
	wantFail(t, e.run(Options{Timeout: time.Minute, OneShot: oneShot}), 30*time.Second, "migrate", "exited with code 3")

	e = newFakeEngine(svc("1", "migrate", running))
	wantFail(t, e.run(Options{Timeout: time.Minute, OneShot: oneShot}), time.Minute, "migrate", "not ready after 1m0s: one-shot still running")
}

// Everything must hold within the timeout; otherwise the first service still pending fails
// with what it was waiting for.
func TestRuleTimeout(t *testing.T) {
	e := newFakeEngine(svc("1", "web", is(healthState(container.Starting))))
	wantFail(t, e.run(Options{Timeout: time.Minute}), time.Minute, "web", "not ready after 1m0s: health starting")

	e = newFakeEngine(svc("1", "web", is(healthState(container.Starting))))
	wantFail(t, e.run(Options{}), DefaultTimeout, "web", "not ready after 5m0s: health starting")

	e = newFakeEngine(svc("1", "web", running))
	wantFail(t, e.run(Options{Timeout: time.Minute, StablePeriod: 2 * time.Minute}), time.Minute, "web",
		"not ready after 1m0s: running 1m0s of the 2m0s stable period")

	e = newFakeEngine(svc("1", "web", is(fakeState{status: container.StatePaused})))
	wantFail(t, e.run(Options{Timeout: time.Minute}), time.Minute, "web", "not ready after 1m0s: paused")

	// The first pending service in the order the gate met them (by service name) is named.
	e = newFakeEngine(
		svc("1", "zeta", is(healthState(container.Starting))),
		svc("2", "alpha", is(fakeState{status: container.StateCreated, startedAt: "0001-01-01T00:00:00Z"})),
	)
	wantFail(t, e.run(Options{Timeout: time.Minute}), time.Minute, "alpha", "not ready after 1m0s: not started")
}

// Every replica of a service is judged; Options.Services limits the gate to those services.
func TestRuleReplicasAndSelection(t *testing.T) {
	e := newFakeEngine(
		svc("1", "web", is(healthState(container.Healthy))),
		svc("2", "web", until(3*time.Second, is(healthState(container.Starting)), is(exited(1, container.RestartPolicyAlways)))),
	)
	f := wantFail(t, e.run(Options{Timeout: time.Minute}), 3*time.Second, "web", "exited with code 1")
	if f.Container != "p-web-2" {
		t.Errorf("failure names container %q, want p-web-2", f.Container)
	}

	e = newFakeEngine(
		svc("1", "web", is(healthState(container.Healthy))),
		svc("2", "worker", is(exited(1, container.RestartPolicyAlways))),
	)
	wantPass(t, e.run(Options{Timeout: time.Minute, Services: []string{"web"}}), 0, "web: healthy")
}

// A selected service without a container fails after MissingGrace (or the timeout, when
// shorter); one whose container comes in time passes; a project without containers fails.
func TestRuleMissingContainers(t *testing.T) {
	e := newFakeEngine(svc("1", "web", running))
	wantFail(t, e.run(Options{Timeout: time.Minute, Services: []string{"db"}}), MissingGrace+time.Second, "db", "no container after 15s")

	e = newFakeEngine(svc("1", "web", running))
	wantFail(t, e.run(Options{Timeout: 10 * time.Second, Services: []string{"db"}}), 10*time.Second, "db", "no container after 10s")

	e = newFakeEngine(svc("1", "db", until(5*time.Second, is(fakeState{absent: true}), running)))
	wantPass(t, e.run(Options{Timeout: time.Minute, StablePeriod: -1, Services: []string{"db"}}), 5*time.Second,
		"db: waiting: no container; db: running")

	e = newFakeEngine()
	wantFail(t, e.run(Options{Timeout: time.Minute}), MissingGrace+time.Second, "", "project p has no containers (after 15s)")

	// A container removed while the gate watches it fails its service.
	e = newFakeEngine(svc("1", "web", until(5*time.Second, running, is(fakeState{absent: true}))))
	f := wantFail(t, e.run(Options{Timeout: time.Minute}), 5*time.Second, "web", "container was removed while the gate watched it")
	if len(f.Logs) != 1 || !strings.HasPrefix(f.Logs[0], "(logs unavailable: ") {
		t.Errorf("logs of a removed container: %q", f.Logs)
	}
}

// Hook containers (compose's pre_start) are judged as hooks, not as the service: one that
// succeeded does not hold the gate, one that failed fails its service, one still running is
// not waited for. One-off `compose run` containers are never checked.
func TestRuleHooksAndOneOffs(t *testing.T) {
	hook := func(st fakeState) fakeContainer {
		return fakeContainer{id: "hook", service: "web", labels: map[string]string{project.LabelHook: "pre_start"}, at: is(st)}
	}
	web := svc("1", "web", running)
	opts := Options{Timeout: time.Minute, StablePeriod: -1}

	wantPass(t, newFakeEngine(hook(exited(0, "")), web).run(opts), 0, "web: running")
	wantPass(t, newFakeEngine(hook(fakeState{status: container.StateRunning}), web).run(opts), 0, "web: running")
	f := wantFail(t, newFakeEngine(hook(exited(3, "")), web).run(opts), 0, "web", "its pre_start hook exited with code 3")
	if f.Container != "p-web-hook" {
		t.Errorf("failure names container %q, want the hook's", f.Container)
	}

	oneOff := fakeContainer{id: "run", service: "web", labels: map[string]string{project.LabelOneOff: "True"}, at: is(exited(1, ""))}
	wantPass(t, newFakeEngine(oneOff, web).run(opts), 0, "web: running")
	// A service with only a one-off container has no container.
	wantFail(t, newFakeEngine(oneOff).run(Options{Timeout: time.Minute, Services: []string{"web"}}), MissingGrace+time.Second, "web", "no container after 15s")
}

// A ReadyLog substring must appear in the logs since start; an exited container that never
// logged it fails, a one-shot that logged it passes when it completes.
func TestRuleReadyLog(t *testing.T) {
	logAt := func(t time.Duration) []string {
		if t < 30*time.Second {
			return []string{"booting"}
		}
		return []string{"booting", "INFO bot ready on :8080"}
	}
	opts := Options{Timeout: time.Minute, StablePeriod: -1, ReadyLog: map[string]string{"bot": "bot ready"}}
	e := newFakeEngine(svc("1", "bot", withLog(running, logAt)))
	wantPass(t, e.run(opts), 30*time.Second, "bot: waiting: ready log; bot: ready log seen; bot: running")

	// The ready log comes first, then the healthcheck.
	e = newFakeEngine(svc("1", "bot", withLog(until(40*time.Second, is(healthState(container.Starting)), is(healthState(container.Healthy))), logAt)))
	wantPass(t, e.run(opts), 40*time.Second, "bot: waiting: ready log; bot: ready log seen; bot: waiting: health starting; bot: healthy")

	e = newFakeEngine(svc("1", "bot", withLog(running, func(time.Duration) []string { return []string{"booting"} })))
	wantFail(t, e.run(opts), time.Minute, "bot", `not ready after 1m0s: ready log "bot ready" not seen`)

	e = newFakeEngine(svc("1", "bot", withLog(until(5*time.Second, running, is(exited(0, container.RestartPolicyDisabled))),
		func(time.Duration) []string { return []string{"booting", "bye"} })))
	wantFail(t, e.run(opts), 5*time.Second, "bot", `exited with code 0 without logging ready log "bot ready"`)

	e = newFakeEngine(svc("1", "bot", withLog(until(31*time.Second, running, is(exited(0, container.RestartPolicyDisabled))), logAt)))
	wantPass(t, e.run(Options{Timeout: time.Minute, ReadyLog: map[string]string{"bot": "bot ready"}, OneShot: map[string]bool{"bot": true}}),
		31*time.Second, "bot: waiting: running to completion; bot: ready log seen; bot: waiting: running to completion; bot: completed")
}

// migrationLog is a log that gains a migration step every 10s until growUntil, and the
// banner at bannerAt (never when zero).
func migrationLog(growUntil, bannerAt time.Duration) func(time.Duration) []string {
	return func(t time.Duration) []string {
		out := []string{"Waking up 麦麦......"}
		for s := time.Duration(0); s <= min(t, growUntil); s += 10 * time.Second {
			out = append(out, fmt.Sprintf("Running database migration step %d", s/(10*time.Second)))
		}
		if bannerAt > 0 && t >= bannerAt {
			out = append(out, "INFO "+banner)
		}
		return out
	}
}

// A WhileLogging ready rule extends the timeout while the log grows: the gate waits until
// the log has been silent for the timeout, never longer than MigrationTimeout in all; once
// the ready line has come, the rest gets the timeout from then.
func TestRuleMigrationExtendsTheTimeoutWhileTheLogGrows(t *testing.T) {
	core := func(st func(time.Duration) fakeState, log func(time.Duration) []string) *fakeEngine {
		return newFakeEngine(svc("1", "core", withLog(st, log)))
	}
	opts := func(whileLogging bool) Options {
		return Options{Timeout: time.Minute, StablePeriod: -1, MigrationTimeout: 10 * time.Minute,
			Ready: map[string]ReadyRule{"core": bannerRule(whileLogging)}}
	}
	const migrating = "core: migrating the database (schema 26 -> newer)"

	// A migration four times the timeout that keeps logging passes when its banner comes.
	wantPass(t, core(running, migrationLog(4*time.Minute, 4*time.Minute)).run(opts(true)), 4*time.Minute,
		migrating+"; core: ready log seen; core: running")

	// Without WhileLogging the same migration fails at the timeout.
	wantFail(t, core(running, migrationLog(4*time.Minute, 4*time.Minute)).run(opts(false)), time.Minute, "core",
		"not ready after 1m0s: the ready banner not seen")

	// A log that stops growing at 2m fails once it has been silent for the timeout.
	f := wantFail(t, core(running, migrationLog(2*time.Minute, 0)).run(opts(true)), 3*time.Minute, "core",
		"not ready, and its log silent for 1m0s: the ready banner not seen")
	if f.Logs[len(f.Logs)-1] != "Running database migration step 12" {
		t.Errorf("logs %q", f.Logs)
	}

	// A log that grows forever is cut off at MigrationTimeout.
	wantFail(t, core(running, migrationLog(time.Hour, 0)).run(opts(true)), 10*time.Minute, "core",
		"not ready after the 10m0s limit for a service whose log keeps growing: the ready banner not seen")

	// The default MigrationTimeout is DefaultMigrationTimeout.
	o := opts(true)
	o.MigrationTimeout, o.PollInterval = 0, 10*time.Second
	wantFail(t, core(running, migrationLog(2*time.Hour, 0)).run(o), DefaultMigrationTimeout, "core",
		"not ready after the 1h0m0s limit for a service whose log keeps growing: the ready banner not seen")

	// A MigrationTimeout below the timeout is the timeout: no extension.
	o = opts(true)
	o.MigrationTimeout = 30 * time.Second
	wantFail(t, core(running, migrationLog(time.Hour, 0)).run(o), time.Minute, "core",
		"not ready, and its log silent for 1m0s: the ready banner not seen")

	// After the banner, the healthcheck gets the timeout from then: it may take 50s more...
	health := until(4*time.Minute+50*time.Second, is(healthState(container.Starting)), is(healthState(container.Healthy)))
	wantPass(t, core(health, migrationLog(4*time.Minute, 4*time.Minute)).run(opts(true)), 4*time.Minute+50*time.Second,
		migrating+"; core: ready log seen; core: waiting: health starting; core: healthy")
	// ...but not more than the timeout.
	wantFail(t, core(is(healthState(container.Starting)), migrationLog(4*time.Minute, 4*time.Minute)).run(opts(true)), 5*time.Minute, "core",
		"not ready 1m0s after its ready line: health starting")

	// ReadyLog wins over a Ready rule, and with it the extension goes.
	o = opts(true)
	o.ReadyLog = map[string]string{"core": "custom ready"}
	wantFail(t, core(running, migrationLog(time.Hour, 0)).run(o), time.Minute, "core",
		`not ready after 1m0s: ready log "custom ready" not seen`)
}

// The gate ends with the context, and an engine that cannot list fails it.
func TestGateEndsWithContextAndEngineErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := newFakeEngine(svc("1", "web", is(healthState(container.Starting))))
	if o := e.runCtx(ctx, Options{Timeout: time.Minute}); !errors.Is(o.err, context.Canceled) || o.at != 0 {
		t.Errorf("cancelled gate: %v at %s", o.err, o.at)
	}

	e = newFakeEngine(svc("1", "web", running))
	e.listErr = errors.New("engine gone")
	if o := e.run(Options{Timeout: time.Minute}); o.err == nil || o.err.Error() != "health gate: list containers of p: engine gone" {
		t.Errorf("list error: %v", o.err)
	}
}
