package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakeClock is the gate's time in the unit tests: it stands still while the gate polls and
// moves only when the gate sleeps, by exactly what the gate asked for. So a test can say at
// which moment of the gate's own time something happened, and the answer never depends on
// how fast the machine is.
type fakeClock struct{ now time.Time }

var fakeEpoch = time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	return nil
}

// elapsed is the gate's time since the test began.
func (c *fakeClock) elapsed() time.Duration { return c.now.Sub(fakeEpoch) }

// fakeState is what the engine says of a container at one moment.
type fakeState struct {
	absent    bool // not listed (not created yet, or removed); inspect answers "no such container"
	status    container.ContainerState
	exitCode  int
	oomKilled bool
	health    container.HealthStatus // "" for a container without a healthcheck
	probe     string                 // the last health probe's output
	restarts  int
	startedAt string // "" for fakeStarted
	policy    container.RestartPolicyMode
	log       []string // the container's whole log
}

const fakeStarted = "2026-08-01T00:00:00Z"

// fakeContainer is one container of the project whose state is a script of the gate's time.
type fakeContainer struct {
	id, service string
	labels      map[string]string // labels besides project and service (one-off, hook)
	at          func(elapsed time.Duration) fakeState
}

// fakeEngine is a project "p" of scripted containers, judged on clock.
type fakeEngine struct {
	clock *fakeClock
	cs    []fakeContainer
	// listErr, when set, is what listing the containers answers.
	listErr error
}

func newFakeEngine(cs ...fakeContainer) *fakeEngine {
	return &fakeEngine{clock: &fakeClock{now: fakeEpoch}, cs: cs}
}

func (e *fakeEngine) state(c fakeContainer) fakeState {
	st := c.at(e.clock.elapsed())
	if st.startedAt == "" {
		st.startedAt = fakeStarted
	}
	return st
}

func (e *fakeEngine) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	if e.listErr != nil {
		return client.ContainerListResult{}, e.listErr
	}
	if !o.All {
		return client.ContainerListResult{}, errors.New("the gate must list stopped containers too")
	}
	var out client.ContainerListResult
	for _, c := range e.cs {
		st := e.state(c)
		if st.absent {
			continue
		}
		labels := map[string]string{project.LabelProject: "p", project.LabelService: c.service}
		for k, v := range c.labels {
			labels[k] = v
		}
		out.Items = append(out.Items, container.Summary{ID: c.id, State: st.status, Labels: labels})
	}
	return out, nil
}

func (e *fakeEngine) find(id string) (fakeContainer, fakeState, error) {
	for _, c := range e.cs {
		if c.id == id {
			if st := e.state(c); !st.absent {
				return c, st, nil
			}
		}
	}
	return fakeContainer{}, fakeState{}, errors.New("No such container: " + id)
}

func (e *fakeEngine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	c, st, err := e.find(id)
	if err != nil {
		return client.ContainerInspectResult{}, err
	}
	s := &container.State{
		Status: st.status, Running: st.status == container.StateRunning, ExitCode: st.exitCode,
		OOMKilled: st.oomKilled, StartedAt: st.startedAt,
	}
	if st.health != "" {
		s.Health = &container.Health{Status: st.health}
		if st.probe != "" {
			s.Health.Log = []*container.HealthcheckResult{{ExitCode: 1, Output: st.probe}}
		}
	}
	policy := st.policy
	if policy == "" {
		policy = container.RestartPolicyDisabled
	}
	return client.ContainerInspectResult{Container: container.InspectResponse{
		Name: "/p-" + c.service + "-" + c.id, State: s, RestartCount: st.restarts,
		HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: policy}},
	}}, nil
}

// ContainerLogs answers the log as the engine's multiplexed stream, one stdout frame a line;
// Tail is honoured, Since is not (a scripted log is the log since the start).
func (e *fakeEngine) ContainerLogs(_ context.Context, id string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	_, st, err := e.find(id)
	if err != nil {
		return nil, err
	}
	lines := st.log
	if n, err := strconv.Atoi(o.Tail); err == nil && n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	var buf bytes.Buffer
	for _, l := range lines {
		hdr := [8]byte{1}
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(l)+1))
		buf.Write(hdr[:])
		buf.WriteString(l + "\n")
	}
	return io.NopCloser(&buf), nil
}

// outcome is how a gate run on the fake engine ended.
type outcome struct {
	err      error
	at       time.Duration // the gate's time since it began when it answered
	progress string        // its progress events, "service: state; ..."
}

// run runs the gate on the fake engine's clock. Zero PollInterval means 1s, so that the
// moments a test names are round.
func (e *fakeEngine) run(opts Options) outcome {
	return e.runCtx(context.Background(), opts)
}

func (e *fakeEngine) runCtx(ctx context.Context, opts Options) outcome {
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Second
	}
	var ev events
	opts.Progress = ev.add
	err := wait(ctx, e, "p", opts, e.clock)
	return outcome{err: err, at: e.clock.elapsed(), progress: ev.String()}
}

// Scripts.

// running is a container that runs, without a healthcheck, from the start on.
func running(time.Duration) fakeState { return fakeState{status: container.StateRunning} }

// until is before up to at, then after.
func until(at time.Duration, before, after func(time.Duration) fakeState) func(time.Duration) fakeState {
	return func(t time.Duration) fakeState {
		if t < at {
			return before(t)
		}
		return after(t)
	}
}

// is always st.
func is(st fakeState) func(time.Duration) fakeState {
	return func(time.Duration) fakeState { return st }
}

// withLog adds to script the log lines of logAt at each moment.
func withLog(script func(time.Duration) fakeState, logAt func(time.Duration) []string) func(time.Duration) fakeState {
	return func(t time.Duration) fakeState {
		st := script(t)
		st.log = logAt(t)
		return st
	}
}
