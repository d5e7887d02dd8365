package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakeLog is one running container of service "core" without a healthcheck whose log is
// script(n) at the gate's n-th read of it (n from 0): the log grows with the gate's polls,
// not with the clock, so what the gate sees does not depend on how fast the machine is.
type fakeLog struct {
	mu     sync.Mutex
	reads  int
	script func(n int) []string
	// health, when set, is the container's healthcheck status at the n-th inspection (from
	// 1; the gate inspects once per poll, before it reads the log).
	health   func(n int) container.HealthStatus
	inspects int
}

func (f *fakeLog) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: []container.Summary{{ID: "c1", Labels: map[string]string{project.LabelProject: "p", project.LabelService: "core"}}}}, nil
}

func (f *fakeLog) ContainerInspect(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	st := &container.State{Status: container.StateRunning, Running: true, StartedAt: "2026-08-01T00:00:00Z"}
	if f.health != nil {
		f.mu.Lock()
		f.inspects++
		n := f.inspects
		f.mu.Unlock()
		st.Health = &container.Health{Status: f.health(n)}
	}
	return client.ContainerInspectResult{Container: container.InspectResponse{Name: "/p-core-1", State: st}}, nil
}

func (f *fakeLog) ContainerLogs(_ context.Context, _ string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	if o.Tail != "" { // the failure's last lines: the log as it is, not a new read
		lines = f.script(max(f.reads-1, 0))
	} else {
		lines = f.script(f.reads)
		f.reads++
	}
	var buf bytes.Buffer
	for _, l := range lines { // one stdout frame of the engine's multiplexed stream per line
		hdr := [8]byte{1}
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(l)+1))
		buf.Write(hdr[:])
		buf.WriteString(l + "\n")
	}
	return io.NopCloser(&buf), nil
}

func (f *fakeLog) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

const banner = "All systems initialized. 麦麦 has been awakened successfully."

// migration logs one migration step per read for steps reads, then the banner when done.
func migration(steps int, done bool) func(int) []string {
	return func(n int) []string {
		out := []string{"Waking up 麦麦......"}
		for i := 0; i < min(n, steps); i++ {
			out = append(out, fmt.Sprintf("Running database migration step %d", i))
		}
		if done && n > steps {
			out = append(out, "INFO "+banner)
		}
		return out
	}
}

func bannerRule(whileLogging bool) ReadyRule {
	return ReadyRule{
		Match: func(l string) bool {
			return strings.Contains(l, "All systems initialized.") && strings.Contains(l, "has been awakened successfully.")
		},
		What:           "the ready banner",
		WhileLogging:   whileLogging,
		Migrating:      func(l string) bool { return strings.Contains(strings.ToLower(l), "migrat") },
		MigratingState: "migrating the database (schema 26 -> newer)",
	}
}

type events struct {
	mu sync.Mutex
	ev []string
}

func (e *events) add(svc, st string) { e.mu.Lock(); e.ev = append(e.ev, svc+": "+st); e.mu.Unlock() }
func (e *events) String() string     { e.mu.Lock(); defer e.mu.Unlock(); return strings.Join(e.ev, "; ") }

func failure(t *testing.T, err error) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("want a *Failure, got %v", err)
	}
	return f
}

// A migration that logs for many times --timeout but keeps logging passes; the progress says
// it migrates, then that the banner came. Polls are 10ms apart and the log grows at each, so
// the log is never silent for the 1s timeout unless the machine stalls for a second; the 200
// steps take at least 2s of polls, twice the timeout.
func TestReadyRuleWaitsOutAProgressingMigration(t *testing.T) {
	t.Parallel()
	f := &fakeLog{script: migration(200, true)}
	var ev events
	err := Wait(context.Background(), f, "p", Options{
		Timeout: time.Second, StablePeriod: -1, PollInterval: 10 * time.Millisecond,
		Ready: map[string]ReadyRule{"core": bannerRule(true)}, Progress: ev.add,
	})
	if err != nil {
		t.Fatalf("a progressing migration failed the gate: %v (after %d reads; progress %s)", err, f.readCount(), ev.String())
	}
	if got, want := ev.String(), "core: waiting: ready log; core: migrating the database (schema 26 -> newer); core: ready log seen; core: running"; got != want {
		t.Errorf("progress %q, want %q", got, want)
	}
}

// The same migration without WhileLogging fails at the timeout: the extension is what lets
// the first test pass.
func TestReadyRuleWithoutWhileLoggingTimesOut(t *testing.T) {
	t.Parallel()
	f := &fakeLog{script: migration(1<<30, false)}
	err := Wait(context.Background(), f, "p", Options{
		Timeout: 300 * time.Millisecond, StablePeriod: -1, PollInterval: 10 * time.Millisecond,
		Ready: map[string]ReadyRule{"core": bannerRule(false)},
	})
	if fl := failure(t, err); fl.Service != "core" || !strings.HasPrefix(fl.Reason, "not ready after 300ms: the ready banner not seen") {
		t.Fatalf("failure %+v", fl)
	}
}

// A migration that stops logging fails once its log has been silent for the timeout, and
// the failure says so and carries the last lines.
func TestReadyRuleFailsASilentMigration(t *testing.T) {
	t.Parallel()
	f := &fakeLog{script: migration(5, false)}
	err := Wait(context.Background(), f, "p", Options{
		Timeout: 300 * time.Millisecond, StablePeriod: -1, PollInterval: 10 * time.Millisecond,
		Ready: map[string]ReadyRule{"core": bannerRule(true)},
	})
	fl := failure(t, err)
	if fl.Service != "core" || fl.Reason != "not ready, and its log silent for 300ms: the ready banner not seen" {
		t.Fatalf("failure %+v", fl)
	}
	if n := f.readCount(); n <= 5 {
		t.Errorf("failed after %d reads, before the log stopped growing", n)
	}
	if len(fl.Logs) == 0 || fl.Logs[len(fl.Logs)-1] != "Running database migration step 4" {
		t.Errorf("logs %q", fl.Logs)
	}
}

// A log that grows forever is cut off at MigrationTimeout.
func TestReadyRuleMigrationTimeoutCaps(t *testing.T) {
	t.Parallel()
	f := &fakeLog{script: migration(1<<30, false)}
	err := Wait(context.Background(), f, "p", Options{
		Timeout: 200 * time.Millisecond, MigrationTimeout: 600 * time.Millisecond, StablePeriod: -1, PollInterval: 10 * time.Millisecond,
		Ready: map[string]ReadyRule{"core": bannerRule(true)},
	})
	if fl := failure(t, err); fl.Reason != "not ready after the 600ms limit for a service whose log keeps growing: the ready banner not seen" {
		t.Fatalf("failure %+v", fl)
	}
}

// An x-maim ready_log (Options.ReadyLog) wins over a Ready rule, and a Ready rule without a
// match for any line keeps the service waiting.
func TestReadyLogWinsOverRule(t *testing.T) {
	t.Parallel()
	f := &fakeLog{script: func(int) []string { return []string{"custom ready"} }}
	err := Wait(context.Background(), f, "p", Options{
		Timeout: time.Minute, StablePeriod: -1, PollInterval: 10 * time.Millisecond,
		ReadyLog: map[string]string{"core": "custom ready"},
		Ready:    map[string]ReadyRule{"core": bannerRule(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = Wait(context.Background(), f, "p", Options{
		Timeout: 200 * time.Millisecond, StablePeriod: -1, PollInterval: 10 * time.Millisecond,
		Ready: map[string]ReadyRule{"core": bannerRule(true)},
	})
	if fl := failure(t, err); !strings.Contains(fl.Reason, "the ready banner not seen") {
		t.Fatalf("failure %+v", fl)
	}
}

// After a migration that outlasted the timeout, what is left once the banner has come (here
// a healthcheck still "starting" for 20 more polls) gets a fresh timeout instead of failing
// at once on the long-passed first deadline.
func TestReadyRuleRestGetsTimeoutAfterBanner(t *testing.T) {
	t.Parallel()
	f := &fakeLog{script: migration(200, true)}
	f.health = func(n int) container.HealthStatus {
		if n <= 221 { // the banner is in the log at the 201st read
			return container.Starting
		}
		return container.Healthy
	}
	var ev events
	err := Wait(context.Background(), f, "p", Options{
		Timeout: time.Second, StablePeriod: -1, PollInterval: 10 * time.Millisecond,
		Ready: map[string]ReadyRule{"core": bannerRule(true)}, Progress: ev.add,
	})
	if err != nil {
		t.Fatalf("the healthcheck after the migration failed the gate: %v (progress %s)", err, ev.String())
	}
	if !strings.HasSuffix(ev.String(), "core: ready log seen; core: waiting: health starting; core: healthy") {
		t.Errorf("progress %s", ev.String())
	}
}
