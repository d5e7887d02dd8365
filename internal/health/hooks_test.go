package health

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakeHooked is a project whose service "web" runs (created with a compose pre_start hook)
// beside that hook's container, exited with hookExit: what compose v5.3+ leaves when a
// hook fails (the container is kept), or what it removes when the hook succeeds.
type fakeHooked struct{ hookExit int }

func (f fakeHooked) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: []container.Summary{
		{ID: "web1", State: container.StateRunning, Labels: map[string]string{project.LabelProject: "p", project.LabelService: "web"}},
		{ID: "hook1", State: container.StateExited, Labels: map[string]string{project.LabelProject: "p", project.LabelService: "web", project.LabelHook: "pre_start"}},
	}}, nil
}

func (f fakeHooked) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	if id == "hook1" {
		st := &container.State{Status: container.StateExited, ExitCode: f.hookExit, StartedAt: "2026-08-01T00:00:00Z"}
		return client.ContainerInspectResult{Container: container.InspectResponse{Name: "/p-web-pre_start-0", State: st}}, nil
	}
	st := &container.State{Status: container.StateRunning, Running: true, StartedAt: "2026-08-01T00:00:01Z"}
	return client.ContainerInspectResult{Container: container.InspectResponse{Name: "/p-web-1", State: st}}, nil
}

func (f fakeHooked) ContainerLogs(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	return nopLog{strings.NewReader("")}, nil
}

type nopLog struct{ *strings.Reader }

func (nopLog) Close() error { return nil }

// A compose hook container is not one of the service's containers: one that succeeded does
// not hold the gate (it never runs as the service), one that failed fails the service, named.
func TestGateJudgesHookContainersAsHooks(t *testing.T) {
	opts := Options{Timeout: time.Minute, StablePeriod: -1, PollInterval: time.Millisecond}
	if err := Wait(context.Background(), fakeHooked{hookExit: 0}, "p", opts); err != nil {
		t.Errorf("a succeeded pre_start hook beside a running service: %v, want healthy", err)
	}
	err := Wait(context.Background(), fakeHooked{hookExit: 3}, "p", opts)
	var f *Failure
	if !errors.As(err, &f) || f.Service != "web" || !strings.Contains(f.Reason, "pre_start hook") || !strings.Contains(f.Reason, "code 3") {
		t.Errorf("a failed pre_start hook: %v, want a failure of web naming its pre_start hook and exit code 3", err)
	}
}
