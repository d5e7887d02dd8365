package svchooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Engine is what running a command needs of the Docker engine: its exec API.
type Engine interface {
	ExecCreate(ctx context.Context, container string, options client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, options client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, options client.ExecInspectOptions) (client.ExecInspectResult, error)
}

// maxOutput is how much of a command's output is kept (its end): what a failure shows.
const maxOutput = 4 << 10

// markerVar marks every process of one run (children inherit it): on a timeout, a second
// exec kills each process whose environment holds the marker.
const markerVar = "DOCKER_MAIM_HOOK"

// Failure is a command that failed: a non-zero exit, a timeout, or an exec the engine
// refused. Output is the end of what it wrote (stdout and stderr), trimmed.
type Failure struct {
	Command   Command
	Container string
	ExitCode  int
	TimedOut  bool
	Output    string
	Err       error
}

func (f *Failure) Error() string {
	what := fmt.Sprintf("%s command of service %s (%s) in container %s", f.Command.When, f.Command.Service, f.Command.From, shortID(f.Container))
	var msg string
	switch {
	case f.Err != nil:
		msg = fmt.Sprintf("%s could not run: %v", what, f.Err)
	case f.TimedOut:
		msg = fmt.Sprintf("%s timed out after %s and was killed", what, f.Command.Timeout)
	case f.ExitCode == ExitSkip && f.Command.When == maim.HookPreUpgrade:
		msg = fmt.Sprintf("%s exited %d (EX_TEMPFAIL): it asks to skip this upgrade", what, f.ExitCode)
	default:
		msg = fmt.Sprintf("%s exited %d", what, f.ExitCode)
	}
	if f.Output != "" {
		msg += "; its output: " + f.Output
	}
	return msg
}

func (f *Failure) Unwrap() error { return f.Err }

// Skip tells whether the failure is a pre-upgrade command asking to skip the upgrade
// (exit 75, as watchtower reads it).
func (f *Failure) Skip() bool {
	return f.Err == nil && !f.TimedOut && f.ExitCode == ExitSkip && f.Command.When == maim.HookPreUpgrade
}

// Containers are the running containers of each service, by service (as
// project.Running.IDs lists them).
type Containers map[string][]string

// RunAll runs each command in every running container of its service, in order, and
// stops at the first that fails (a *Failure). A service with no running container runs
// nothing (there is nowhere to run it): logf says so. logf receives a line per command.
func RunAll(ctx context.Context, eng Engine, cmds []Command, ctrs Containers, logf func(string, ...any)) error {
	for _, c := range cmds {
		ids := append([]string(nil), ctrs[c.Service]...)
		sort.Strings(ids)
		if len(ids) == 0 {
			logf("%s command of %s (%s) not run: no container of it runs", c.When, c.Service, c.From)
			continue
		}
		for _, id := range ids {
			logf("running the %s command of %s (%s) in %s", c.When, c.Service, c.From, shortID(id))
			if err := Run(ctx, eng, id, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run runs c inside container id as `/bin/sh -c COMMAND` (as offen and watchtower do),
// with c.User, and waits for it at most c.Timeout: then every process it started is
// killed (a second exec, as root, kills the processes that carry this run's marker in
// their environment) and it counts as failed. A cancelled ctx kills it too. nil means it
// exited 0; otherwise a *Failure.
func Run(ctx context.Context, eng Engine, id string, c Command) error {
	fail := &Failure{Command: c, Container: id}
	marker := newMarker()
	cr, err := eng.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: c.User, AttachStdout: true, AttachStderr: true,
		Env: []string{markerVar + "=" + marker}, Cmd: []string{"/bin/sh", "-c", c.Command},
	})
	if err != nil {
		fail.Err = err
		return fail
	}
	ar, err := eng.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		fail.Err = err
		return fail
	}
	out := &tail{}
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(out, out, ar.Reader)
		done <- err
	}()
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout // never without one (FromProject always sets it)
		fail.Command.Timeout = c.Timeout
	}
	timer := time.NewTimer(c.Timeout)
	defer timer.Stop()
	select {
	case err = <-done:
		ar.Close()
	case <-timer.C:
		fail.TimedOut = true
	case <-ctx.Done():
		fail.Err = ctx.Err()
	}
	if fail.TimedOut || fail.Err != nil {
		kerr := kill(context.WithoutCancel(ctx), eng, id, marker)
		ar.Close()
		<-done
		fail.Output = out.String()
		if kerr != nil && fail.Err == nil {
			fail.Err = fmt.Errorf("timed out after %s; killing it failed too: %w", c.Timeout, kerr)
		}
		return fail
	}
	fail.Output = out.String()
	if err != nil && !errors.Is(err, io.EOF) {
		fail.Err = fmt.Errorf("reading its output: %w", err)
		return fail
	}
	code, err := exitCode(ctx, eng, cr.ID)
	if err != nil {
		fail.Err = err
		return fail
	}
	if code != 0 {
		fail.ExitCode = code
		return fail
	}
	return nil
}

// exitCode waits (briefly) for the engine to record the exec's end and returns its code.
func exitCode(ctx context.Context, eng Engine, execID string) (int, error) {
	for i := 0; ; i++ {
		ins, err := eng.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return 0, err
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		if i == 100 {
			return 0, errors.New("its output ended but the engine still reports it running")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// killScript kills every process of the container whose environment holds the marker
// ($1), itself excepted: first all of them are stopped (SIGSTOP), then killed (SIGKILL), so
// that no shell of the command goes on to its next line when its child dies first.
const killScript = `command -v grep >/dev/null 2>&1 || { echo "no grep in the container: its processes cannot be found"; exit 3; }; ps=; for p in /proc/[0-9]*; do n=${p#/proc/}; [ "$n" = "$$" ] && continue; grep -qs "$1" "$p/environ" && ps="$ps $n"; done; [ -z "$ps" ] && exit 0; kill -STOP $ps 2>/dev/null; kill -KILL $ps 2>/dev/null; exit 0`

// kill kills the processes of one run, within 30 seconds.
func kill(ctx context.Context, eng Engine, id, marker string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cr, err := eng.ExecCreate(ctx, id, client.ExecCreateOptions{
		User: "0", AttachStdout: true, AttachStderr: true,
		Cmd: []string{"/bin/sh", "-c", killScript, "kill", markerVar + "=" + marker},
	})
	if err != nil {
		return err
	}
	ar, err := eng.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return err
	}
	defer ar.Close()
	var b tail
	if _, err := stdcopy.StdCopy(&b, &b, ar.Reader); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	code, err := exitCode(ctx, eng, cr.ID)
	if err == nil && code != 0 {
		err = fmt.Errorf("the kill exited %d: %s", code, b.String())
	}
	return err
}

func newMarker() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail keeps the last maxOutput bytes written to it; safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	buf []byte
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > maxOutput {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-maxOutput:]...)
		t.cut = true
	}
	return len(p), nil
}

// String is the output kept, trimmed, on one line per line joined by " | ".
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(strings.ToValidUTF8(string(t.buf), "?"))
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], "\r")
	}
	out := strings.Join(lines, " | ")
	if t.cut {
		out = "..." + out
	}
	return out
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
