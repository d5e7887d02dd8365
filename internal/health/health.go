// Package health is the health gate that ends upgrade, restore and rollback: it watches a
// Compose project's containers until every selected service has proved itself, or returns a
// *Failure naming the first service that did not, with its last log lines.
//
// The rules, per container of each service (every replica):
//
//   - A container with a healthcheck must report "healthy"; "unhealthy" fails at once.
//   - A container without one must be running and stay running, with neither its RestartCount
//     nor its StartedAt changing, for Options.StablePeriod (measured on this machine's clock
//     from when the gate first saw that start, so engine clock skew does not matter).
//   - A one-shot service (declared in Options.OneShot, or a container with restart policy "no"
//     or "on-failure" that has exited) must exit with code 0; a declared one-shot that is still
//     running is waited for.
//   - A restart of any container (RestartCount or StartedAt changed since the gate began, or
//     state "restarting") fails the service: that is a crash loop.
//   - When Options.ReadyLog names a substring for the service, it must appear in the
//     container's logs since its start; when Options.Ready has a rule for it instead, a line
//     the rule matches must.
//   - Everything must hold within Options.Timeout; otherwise the first service still pending
//     fails with the reason it was waiting for. A service whose Ready rule says
//     WhileLogging extends that: while it waits for its ready line and its log keeps
//     growing (a migration that prints its steps), the gate waits until its log has been
//     silent for Options.Timeout, and never longer than Options.MigrationTimeout in all; once
//     the ready line has come, the rest gets Options.Timeout from then.
//
// ParseExtension and FromProject read the per-service `x-maim` keys `ready_log` (string) and
// `one_shot` (bool) from a compose-go project.
package health

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Defaults used when an Options field is zero.
const (
	DefaultTimeout      = api.DefaultTimeout
	DefaultStablePeriod = api.DefaultStablePeriod
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultMigrationTimeout caps how long a growing log keeps the gate waiting.
	DefaultMigrationTimeout = api.DefaultMigrationTimeout
	// LogLines is how many of a failing container's last log lines a Failure carries.
	LogLines = 20
	// MissingGrace is how long a selected service may have no container before it fails.
	MissingGrace = 15 * time.Second
)

// Engine is the part of the engine API the gate needs; *client.Client implements it.
type Engine interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, containerID string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerLogs(ctx context.Context, containerID string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
}

// Options tune the gate. Zero values take the defaults above.
type Options struct {
	// Timeout bounds the whole wait (default 5m).
	Timeout time.Duration
	// StablePeriod is how long a service without a healthcheck must stay up (default 15s).
	// A negative value means "running once is enough".
	StablePeriod time.Duration
	// ReadyLog maps a service to a substring that must appear in its logs since start.
	ReadyLog map[string]string
	// Ready maps a service without a ReadyLog entry to the rule for its ready line.
	Ready map[string]ReadyRule
	// MigrationTimeout caps the whole wait while a WhileLogging service's log grows (default
	// DefaultMigrationTimeout; a value below Timeout is Timeout: no extension).
	MigrationTimeout time.Duration
	// Services limits the gate to these services; empty means every service that has
	// containers in the project (one-off `compose run` containers are never checked).
	Services []string
	// OneShot marks services that must run to completion and exit 0.
	OneShot map[string]bool
	// PollInterval is the time between inspections (default 500ms).
	PollInterval time.Duration
	// Progress, when set, is called when a service's state changes ("waiting: health starting",
	// "ready", ...). It must not block.
	Progress func(service, state string)
}

// From is the gate a verb's api.HealthOptions ask for; the caller adds what it knows of
// the project (ReadyLog, Ready, Services, OneShot, Progress).
func From(o api.HealthOptions) Options {
	return Options{Timeout: o.Timeout, StablePeriod: o.StablePeriod, MigrationTimeout: o.MigrationTimeout}
}

// ReadyRule is how a service proves it has started by its log.
type ReadyRule struct {
	// Match tells whether a log line is the ready line.
	Match func(line string) bool
	// What names the ready line in progress and failures ("the ready banner ...").
	What string
	// WhileLogging: while the ready line has not appeared, new log output counts as
	// progress, and the gate waits until the log has been silent for Options.Timeout
	// (up to Options.MigrationTimeout in all).
	WhileLogging bool
	// Migrating, when set, tells whether a log line says the service migrates its data;
	// once one has appeared, the progress says MigratingState while it waits.
	Migrating      func(line string) bool
	MigratingState string
}

// Failure is the error Wait returns when a service does not pass the gate.
type Failure struct {
	Service   string   // compose service name ("" when the project has no containers at all)
	Container string   // container name, without the leading slash
	Reason    string   // why, in a few words: "unhealthy: ...", "restarted ...", "exited with code 1", ...
	Logs      []string // the container's last log lines (up to LogLines), stdout and stderr merged
}

func (f *Failure) Error() string {
	if f.Service == "" {
		return "health gate: " + f.Reason
	}
	return fmt.Sprintf("health gate: service %s: %s", f.Service, f.Reason)
}

// watched is one container under observation.
type watched struct {
	service, id, name string
	restartCount      int    // at first sight
	startedAt         string // at first sight
	stableSince       time.Time
	readyLogFound     bool
	done              bool
	pending           string // what it waits for
	// The log since start as last read (size and last line): a change is progress.
	logSize    int
	logLast    string
	lastGrowth time.Time // when the gate last saw the log grow (zero: never)
	readySeen  time.Time // when the gate saw the ready line
	migrating  bool
}

// Wait blocks until every selected service of project passes the gate (nil), one fails
// (*Failure), the timeout passes (*Failure naming a pending service), or ctx ends (ctx.Err()).
func Wait(ctx context.Context, cli Engine, project string, opts Options) error {
	return wait(ctx, cli, project, opts, machineClock{})
}

// wait is Wait on the given clock.
func wait(ctx context.Context, cli Engine, project string, opts Options, clk clock) error {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.StablePeriod == 0 {
		opts.StablePeriod = DefaultStablePeriod
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.MigrationTimeout == 0 {
		opts.MigrationTimeout = DefaultMigrationTimeout
	}
	opts.MigrationTimeout = max(opts.MigrationTimeout, opts.Timeout)
	start := clk.Now()
	g := &gate{cli: cli, project: project, opts: opts, status: map[string]string{}, start: start, clock: clk}

	for {
		done, err := g.poll(ctx)
		if err != nil || done {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		deadline := g.deadline()
		if !clk.Now().Before(deadline) {
			return g.timeout(ctx)
		}
		if len(g.missing) > 0 && clk.Now().Sub(start) > MissingGrace {
			return g.timeout(ctx)
		}
		if err := clk.Sleep(ctx, min(opts.PollInterval, deadline.Sub(clk.Now()))); err != nil {
			return err
		}
	}
}

type gate struct {
	start   time.Time
	clock   clock
	cli     Engine
	project string
	opts    Options
	byID    map[string]*watched
	order   []*watched
	missing []string            // selected services without containers at the last poll
	hooks   []container.Summary // exited lifecycle-hook containers of the selected services at the last poll
	status  map[string]string
}

func (g *gate) report(service, state string) {
	if g.opts.Progress != nil && g.status[service] != state {
		g.status[service] = state
		g.opts.Progress(service, state)
	}
}

// deadline is when the gate gives up: Timeout after its start; while a WhileLogging service
// waits for its ready line, Timeout after that service's log last grew, but never later than
// MigrationTimeout after the start; once its ready line has come, Timeout after that (what
// is left to prove, a healthcheck, the stable period, services that wait for it, gets the
// time a service that started at once would have had).
func (g *gate) deadline() time.Time {
	d := g.start.Add(g.opts.Timeout)
	limit := g.start.Add(g.opts.MigrationTimeout)
	for _, w := range g.order {
		if !g.extends(w) {
			continue
		}
		e := w.readySeen.Add(g.opts.Timeout)
		if !w.readyLogFound {
			if e = w.lastGrowth.Add(g.opts.Timeout); e.After(limit) {
				e = limit
			}
		}
		if e.After(d) {
			d = e
		}
	}
	return d
}

// extends tells whether w's service has a WhileLogging ready rule (and no ReadyLog, which
// wins over it).
func (g *gate) extends(w *watched) bool {
	return g.opts.Ready[w.service].WhileLogging && g.opts.ReadyLog[w.service] == ""
}

// fail builds the Failure for w with its last log lines. It uses a fresh short context so
// that the logs are fetched even when the gate's own context just expired.
func (g *gate) fail(_ context.Context, w *watched, reason string) *Failure {
	f := &Failure{Service: w.service, Container: w.name, Reason: reason}
	lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lines, err := g.logs(lctx, w.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(LogLines)})
	if err != nil {
		lines = []string{"(logs unavailable: " + err.Error() + ")"}
	}
	if len(lines) > LogLines {
		lines = lines[len(lines)-LogLines:]
	}
	f.Logs = lines
	return f
}

// timeout names the first pending service.
func (g *gate) timeout(ctx context.Context) error {
	after := g.opts.Timeout.String()
	if len(g.missing) > 0 && g.opts.Timeout > MissingGrace {
		after = MissingGrace.String()
	}
	for _, s := range g.missing {
		if s == "" {
			return &Failure{Reason: fmt.Sprintf("project %s has no containers (after %s)", g.project, after)}
		}
		return &Failure{Service: s, Reason: fmt.Sprintf("no container after %s", after)}
	}
	for _, w := range g.order {
		if w.done {
			continue
		}
		if g.extends(w) && w.readyLogFound {
			return g.fail(ctx, w, fmt.Sprintf("not ready %s after its ready line: %s", g.opts.Timeout, w.pending))
		}
		if g.extends(w) {
			if limit := g.start.Add(g.opts.MigrationTimeout); !g.clock.Now().Before(limit) && g.opts.MigrationTimeout > g.opts.Timeout {
				return g.fail(ctx, w, fmt.Sprintf("not ready after the %s limit for a service whose log keeps growing: %s", g.opts.MigrationTimeout, w.pending))
			}
			return g.fail(ctx, w, fmt.Sprintf("not ready, and its log silent for %s: %s", g.opts.Timeout, w.pending))
		}
		return g.fail(ctx, w, fmt.Sprintf("not ready after %s: %s", after, w.pending))
	}
	return errors.New("health gate: timed out")
}
