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
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Defaults used when an Options field is zero.
const (
	DefaultTimeout      = 5 * time.Minute
	DefaultStablePeriod = 15 * time.Second
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultMigrationTimeout caps how long a growing log keeps the gate waiting.
	DefaultMigrationTimeout = 60 * time.Minute
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
	start := time.Now()
	g := &gate{cli: cli, project: project, opts: opts, status: map[string]string{}, start: start}

	for {
		done, err := g.poll(ctx)
		if err != nil || done {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		deadline := g.deadline()
		if !time.Now().Before(deadline) {
			return g.timeout(ctx)
		}
		if len(g.missing) > 0 && time.Since(start) > MissingGrace {
			return g.timeout(ctx)
		}
		wait := min(opts.PollInterval, time.Until(deadline))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

type gate struct {
	start   time.Time
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

// list returns the project's service containers, by service, filtered by opts.Services.
func (g *gate) list(ctx context.Context) (map[string][]container.Summary, error) {
	res, err := g.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", project.LabelProject+"="+g.project),
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]container.Summary{}
	g.hooks = g.hooks[:0]
	for _, c := range res.Items {
		svc := c.Labels[project.LabelService]
		if svc == "" || strings.EqualFold(c.Labels[project.LabelOneOff], "true") {
			continue
		}
		if len(g.opts.Services) > 0 && !slices.Contains(g.opts.Services, svc) {
			continue
		}
		if c.Labels[project.LabelHook] != "" {
			// A hook's container is not the service's: it runs to completion before the
			// service starts, and compose removes it when it succeeds.
			if c.State == container.StateExited {
				g.hooks = append(g.hooks, c)
			}
			continue
		}
		out[svc] = append(out[svc], c)
	}
	return out, nil
}

// failedHook returns the failure of a service whose lifecycle hook (compose's pre_start)
// exited non-zero: compose then never starts the service and keeps the hook's container.
func (g *gate) failedHook(ctx context.Context) *Failure {
	for _, c := range g.hooks {
		res, err := g.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil || res.Container.State == nil {
			continue
		}
		if st := res.Container.State; st.Status == container.StateExited && st.ExitCode != 0 {
			w := &watched{service: c.Labels[project.LabelService], id: c.ID, name: strings.TrimPrefix(res.Container.Name, "/")}
			return g.fail(ctx, w, fmt.Sprintf("its %s hook exited with code %d", c.Labels[project.LabelHook], st.ExitCode))
		}
	}
	return nil
}

func (g *gate) poll(ctx context.Context) (bool, error) {
	cs, err := g.list(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		return true, fmt.Errorf("health gate: list containers of %s: %w", g.project, err)
	}
	if f := g.failedHook(ctx); f != nil {
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		return true, f
	}
	if g.byID == nil {
		g.byID = map[string]*watched{}
	}
	g.missing = g.missing[:0]
	if len(g.opts.Services) > 0 {
		for _, s := range g.opts.Services {
			if len(cs[s]) == 0 {
				g.missing = append(g.missing, s)
				g.report(s, "waiting: no container")
			}
		}
	} else if len(cs) == 0 {
		g.missing = append(g.missing, "")
	}
	seen := map[string]bool{}
	services := make([]string, 0, len(cs))
	for s := range cs {
		services = append(services, s)
	}
	sort.Strings(services)
	for _, s := range services {
		for _, c := range cs[s] {
			seen[c.ID] = true
			w := g.byID[c.ID]
			if w == nil {
				w = &watched{service: s, id: c.ID, restartCount: -1}
				g.byID[c.ID] = w
				g.order = append(g.order, w)
			}
			if w.done {
				continue
			}
			if f := g.check(ctx, w); f != nil {
				if ctx.Err() != nil {
					return true, ctx.Err()
				}
				return true, f
			}
		}
	}
	for _, w := range g.order {
		if !seen[w.id] && !w.done {
			return true, g.fail(ctx, w, "container was removed while the gate watched it")
		}
	}
	if len(g.missing) > 0 {
		return false, nil
	}
	for _, w := range g.order {
		if seen[w.id] && !w.done {
			return false, nil
		}
	}
	return true, nil
}

// check inspects w and returns a *Failure, or updates w.done / w.pending.
func (g *gate) check(ctx context.Context, w *watched) *Failure {
	res, err := g.cli.ContainerInspect(ctx, w.id, client.ContainerInspectOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return g.fail(ctx, w, "inspect: "+err.Error())
	}
	c := res.Container
	w.name = strings.TrimPrefix(c.Name, "/")
	st := c.State
	if st == nil {
		return g.fail(ctx, w, "engine reported no state")
	}
	now := time.Now()
	if w.restartCount < 0 {
		w.restartCount, w.startedAt, w.stableSince = c.RestartCount, st.StartedAt, now
	}
	if c.RestartCount != w.restartCount || (st.StartedAt != w.startedAt && !isZeroTime(w.startedAt)) {
		return g.fail(ctx, w, fmt.Sprintf("restarted (restart count %d -> %d, exit code %d)", w.restartCount, c.RestartCount, st.ExitCode))
	}
	if isZeroTime(w.startedAt) && !isZeroTime(st.StartedAt) {
		// first start seen after the gate began (it was "created")
		w.startedAt, w.stableSince = st.StartedAt, now
	}
	policy := container.RestartPolicy{}
	if c.HostConfig != nil {
		policy = c.HostConfig.RestartPolicy
	}
	oneShot := g.opts.OneShot[w.service]

	switch st.Status {
	case container.StateRestarting:
		return g.fail(ctx, w, fmt.Sprintf("restarting (crash loop; last exit code %d)", st.ExitCode))
	case container.StateDead, container.StateRemoving:
		return g.fail(ctx, w, "container is "+string(st.Status))
	case container.StateExited:
		if st.ExitCode != 0 {
			reason := fmt.Sprintf("exited with code %d", st.ExitCode)
			if st.OOMKilled {
				reason += " (OOM killed)"
			}
			if st.Error != "" {
				reason += ": " + st.Error
			}
			return g.fail(ctx, w, reason)
		}
		if !oneShot && !policy.IsNone() && !policy.IsOnFailure() {
			return g.fail(ctx, w, fmt.Sprintf("exited with code 0 but has restart policy %q (declare it one_shot if it is meant to finish)", policy.Name))
		}
		if f := g.checkReadyLog(ctx, w, st.StartedAt); f != nil || !w.readyLogFound {
			if f == nil {
				return g.fail(ctx, w, "exited with code 0 without logging "+g.readyWhat(w.service))
			}
			return f
		}
		return g.ok(w, "completed")
	case container.StateCreated:
		w.pending = "not started"
		g.report(w.service, "waiting: not started")
		return nil
	case container.StatePaused:
		w.pending = "paused"
		g.report(w.service, "waiting: paused")
		return nil
	}
	// running
	if f := g.checkReadyLog(ctx, w, st.StartedAt); f != nil {
		return f
	}
	if oneShot {
		w.pending = "one-shot still running"
		g.report(w.service, "waiting: running to completion")
		return nil
	}
	if !w.readyLogFound {
		w.pending = g.readyWhat(w.service) + " not seen"
		switch {
		case w.migrating && g.opts.Ready[w.service].MigratingState != "":
			g.report(w.service, g.opts.Ready[w.service].MigratingState)
		case w.migrating:
			g.report(w.service, "waiting: migrating")
		default:
			g.report(w.service, "waiting: ready log")
		}
		return nil
	}
	if st.Health != nil && st.Health.Status != container.NoHealthcheck && st.Health.Status != "" {
		switch st.Health.Status {
		case container.Healthy:
			return g.ok(w, "healthy")
		case container.Unhealthy:
			reason := "unhealthy"
			if n := len(st.Health.Log); n > 0 {
				if out := strings.TrimSpace(st.Health.Log[n-1].Output); out != "" {
					reason += ": " + firstLine(out)
				}
			}
			return g.fail(ctx, w, reason)
		default:
			w.pending = "health " + string(st.Health.Status)
			g.report(w.service, "waiting: health "+string(st.Health.Status))
			return nil
		}
	}
	if g.opts.StablePeriod < 0 {
		return g.ok(w, "running")
	}
	if up := now.Sub(w.stableSince); up < g.opts.StablePeriod {
		w.pending = fmt.Sprintf("running %s of the %s stable period", up.Round(time.Second), g.opts.StablePeriod)
		g.report(w.service, "waiting: stable period")
		return nil
	}
	return g.ok(w, "running and stable")
}

func (g *gate) ok(w *watched, state string) *Failure {
	w.done, w.pending = true, ""
	g.report(w.service, state)
	return nil
}

func isZeroTime(s string) bool { return s == "" || strings.HasPrefix(s, "0001-01-01") }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// readyWhat names the ready line of service in messages.
func (g *gate) readyWhat(service string) string {
	if s := g.opts.ReadyLog[service]; s != "" {
		return fmt.Sprintf("ready log %q", s)
	}
	if r := g.opts.Ready[service]; r.What != "" {
		return r.What
	}
	return "ready log"
}

// readyMatch is the service's ready-line test, nil when it has none. ReadyLog wins.
func (g *gate) readyMatch(service string) func(string) bool {
	if want := g.opts.ReadyLog[service]; want != "" {
		return func(l string) bool { return strings.Contains(l, want) }
	}
	return g.opts.Ready[service].Match
}

// checkReadyLog sets w.readyLogFound when the service has no ready log or it was logged
// since startedAt. It also notes when the log since start changed (w.lastGrowth) and
// whether it says the service migrates (w.migrating).
func (g *gate) checkReadyLog(ctx context.Context, w *watched, startedAt string) *Failure {
	match := g.readyMatch(w.service)
	if match == nil || w.readyLogFound {
		w.readyLogFound = true
		return nil
	}
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true}
	if t, err := time.Parse(time.RFC3339Nano, startedAt); err == nil && !isZeroTime(startedAt) {
		// The engine records StartedAt after the process has started: a line it prints at
		// once is stamped before it. readyLogSlack takes those in; a previous run of the same
		// container ended longer ago (the upgrade stopped it, or a restart fails the gate).
		t = t.Add(-readyLogSlack)
		opts.Since = strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%09d", t.Nanosecond())
	}
	lines, err := g.logs(ctx, w.id, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return g.fail(ctx, w, "read logs: "+err.Error())
	}
	size := len(lines)
	for _, l := range lines {
		size += len(l)
	}
	last := ""
	if len(lines) > 0 {
		last = lines[len(lines)-1]
	}
	if size != w.logSize || last != w.logLast {
		w.logSize, w.logLast, w.lastGrowth = size, last, time.Now()
	}
	migrating := g.opts.Ready[w.service].Migrating
	for _, l := range lines {
		if match(l) {
			w.readyLogFound, w.readySeen = true, time.Now()
			g.report(w.service, "ready log seen")
			return nil
		}
		if migrating != nil && !w.migrating && migrating(l) {
			w.migrating = true
		}
	}
	return nil
}

// readyLogSlack is how long before a container's StartedAt its ready log line is looked for.
const readyLogSlack = time.Second

// logs returns a container's log lines (stdout and stderr merged in arrival order per stream).
func (g *gate) logs(ctx context.Context, id string, opts client.ContainerLogsOptions) ([]string, error) {
	rc, err := g.cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, bytes.NewReader(raw)); err != nil {
		// A TTY container's log is not multiplexed: take it as it is.
		buf.Reset()
		buf.Write(raw)
	}
	var lines []string
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	return lines, nil
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
			if limit := g.start.Add(g.opts.MigrationTimeout); !time.Now().Before(limit) && g.opts.MigrationTimeout > g.opts.Timeout {
				return g.fail(ctx, w, fmt.Sprintf("not ready after the %s limit for a service whose log keeps growing: %s", g.opts.MigrationTimeout, w.pending))
			}
			return g.fail(ctx, w, fmt.Sprintf("not ready, and its log silent for %s: %s", g.opts.Timeout, w.pending))
		}
		return g.fail(ctx, w, fmt.Sprintf("not ready after %s: %s", after, w.pending))
	}
	return errors.New("health gate: timed out")
}
