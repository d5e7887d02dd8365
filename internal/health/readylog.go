package health

// Ready lines: reading a container's log since its start for its ready line, and noting
// whether the log grows (a migration) meanwhile.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

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
		w.logSize, w.logLast, w.lastGrowth = size, last, g.clock.Now()
	}
	migrating := g.opts.Ready[w.service].Migrating
	for _, l := range lines {
		if match(l) {
			w.readyLogFound, w.readySeen = true, g.clock.Now()
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
