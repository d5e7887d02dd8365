package project

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakeLifecycle records stop and start calls in order.
type fakeLifecycle struct {
	fakeLister
	calls    []string
	timeouts map[string]*int
	failStop map[string]error
	failOn   map[string]error
}

func (f *fakeLifecycle) ContainerStop(_ context.Context, id string, o client.ContainerStopOptions) (client.ContainerStopResult, error) {
	f.calls = append(f.calls, "stop "+id)
	if f.timeouts == nil {
		f.timeouts = map[string]*int{}
	}
	f.timeouts[id] = o.Timeout
	return client.ContainerStopResult{}, f.failStop[id]
}

func (f *fakeLifecycle) ContainerStart(_ context.Context, id string, _ client.ContainerStartOptions) (client.ContainerStartResult, error) {
	f.calls = append(f.calls, "start "+id)
	return client.ContainerStartResult{}, f.failOn[id]
}

const chain = `
services:
  web:
    image: web
    depends_on: [api]
    stop_grace_period: 1m30s
  api:
    image: api
    depends_on: [db]
  db:
    image: db
  idle:
    image: idle
`

func TestRunningInStartOrderWithOrphansLast(t *testing.T) {
	p := loadYAML(t, chain, nil)
	cs := []container.Summary{
		ctr("web-2", "demo", "web", container.StateRunning),
		ctr("web-1", "demo", "web", container.StateRunning),
		ctr("api-1", "demo", "api", container.StateRestarting),
		ctr("db-1", "demo", "db", container.StateRunning),
		ctr("idle-1", "demo", "idle", container.StateExited),
		ctr("old-1", "demo", "removed", container.StateRunning),
		ctr("dead-1", "demo", "api", container.StateDead),
	}
	r, err := p.running(cs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"db", "api", "web", "removed"}; !reflect.DeepEqual(r.Services, want) {
		t.Fatalf("Services = %v, want %v", r.Services, want)
	}
	if want := []string{"web-1", "web-2"}; !reflect.DeepEqual(r.IDs["web"], want) {
		t.Errorf("web IDs = %v, want sorted %v", r.IDs["web"], want)
	}
	if want := []string{"api-1"}; !reflect.DeepEqual(r.IDs["api"], want) {
		t.Errorf("api IDs = %v, want %v (dead is not running)", r.IDs["api"], want)
	}
	if _, ok := r.IDs["idle"]; ok || r.Empty() {
		t.Errorf("idle is not running: %+v", r)
	}
	if none, _ := p.running(nil); !none.Empty() {
		t.Errorf("nothing running must be Empty: %+v", none)
	}

	// through the lister too
	r2, err := p.RunningContainers(context.Background(), &fakeLister{containers: cs})
	if err != nil || !reflect.DeepEqual(r2.Services, r.Services) {
		t.Fatalf("RunningContainers = %+v, %v", r2, err)
	}
}

func TestRunningCycleIsAnError(t *testing.T) {
	p := &Project{Project: &types.Project{Name: "demo", Services: types.Services{"a": svc("a", "b"), "b": svc("b", "a")}}}
	if _, err := p.running(nil); err == nil {
		t.Fatal("want the Order error")
	}
}

func TestStopReverseOrderWithGracePeriod(t *testing.T) {
	p := loadYAML(t, chain, nil)
	r := Running{
		Services: []string{"db", "api", "web"},
		IDs:      map[string][]string{"db": {"db-1"}, "api": {"api-1"}, "web": {"web-1", "web-2"}},
	}
	eng := &fakeLifecycle{}
	if err := p.Stop(context.Background(), eng, r); err != nil {
		t.Fatal(err)
	}
	if want := []string{"stop web-1", "stop web-2", "stop api-1", "stop db-1"}; !reflect.DeepEqual(eng.calls, want) {
		t.Fatalf("calls = %v, want %v", eng.calls, want)
	}
	if tw := eng.timeouts["web-1"]; tw == nil || *tw != 90 {
		t.Errorf("web stop timeout = %v, want 90s from stop_grace_period", tw)
	}
	if tdb := eng.timeouts["db-1"]; tdb != nil {
		t.Errorf("db stop timeout = %d, want nil (the container's own)", *tdb)
	}
}

func TestStopStopsAtFirstFailure(t *testing.T) {
	p := loadYAML(t, chain, nil)
	r := Running{Services: []string{"db", "api", "web"}, IDs: map[string][]string{"db": {"db-1"}, "api": {"api-1"}, "web": {"web-1"}}}
	boom := errors.New("timeout")
	eng := &fakeLifecycle{failStop: map[string]error{"api-1": boom}}
	err := p.Stop(context.Background(), eng, r)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "api") {
		t.Fatalf("err = %v, want it to wrap %v and name api", err, boom)
	}
	if want := []string{"stop web-1", "stop api-1"}; !reflect.DeepEqual(eng.calls, want) {
		t.Fatalf("calls = %v, want %v (db keeps running for what still depends on it)", eng.calls, want)
	}
}

func TestStartOrderContinuesAfterFailureAndJoinsErrors(t *testing.T) {
	p := loadYAML(t, chain, nil)
	r := Running{
		Services: []string{"db", "api", "web", "orphan"},
		IDs:      map[string][]string{"db": {"db-1"}, "api": {"api-1"}, "web": {"web-1", "web-2"}, "orphan": {"o-1"}},
	}
	e1, e2 := errors.New("port in use"), errors.New("no such image")
	eng := &fakeLifecycle{failOn: map[string]error{"api-1": e1, "web-2": e2}}
	err := p.Start(context.Background(), eng, r)
	if want := []string{"start db-1", "start api-1", "start web-1", "start web-2", "start o-1"}; !reflect.DeepEqual(eng.calls, want) {
		t.Fatalf("calls = %v, want %v", eng.calls, want)
	}
	if !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Fatalf("err = %v, want both failures joined", err)
	}
	if !strings.Contains(err.Error(), "starting api") || !strings.Contains(err.Error(), "starting web") {
		t.Errorf("err %q does not name the services", err)
	}

	eng = &fakeLifecycle{}
	if err := p.Start(context.Background(), eng, Running{}); err != nil || len(eng.calls) != 0 {
		t.Fatalf("starting nothing: %v, %v", err, eng.calls)
	}
}

func TestRunningOrphansSortedByName(t *testing.T) {
	p := loadYAML(t, chain, nil)
	cs := []container.Summary{
		ctr("z", "demo", "zz-gone", container.StateRunning),
		ctr("m", "demo", "mm-gone", container.StateRunning),
		ctr("a", "demo", "aa-gone", container.StateRunning),
		ctr("db-1", "demo", "db", container.StateRunning),
	}
	want := []string{"db", "aa-gone", "mm-gone", "zz-gone"}
	for i := 0; i < 30; i++ {
		r, err := p.running(cs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.Services, want) {
			t.Fatalf("run %d: Services = %v, want %v (stable order)", i, r.Services, want)
		}
	}
}

// TestRunningOneOffs: a running one-off container (`docker compose run`) is what runs too,
// apart from the services: stopped first, started last, described as a one-off, never a
// service of its own.
func TestRunningOneOffs(t *testing.T) {
	p := loadYAML(t, chain, nil)
	job := ctr("job-1", "demo", "api", container.StateRunning)
	job.Labels[LabelOneOff] = "True"
	done := ctr("job-0", "demo", "idle", container.StateExited)
	done.Labels[LabelOneOff] = "True"
	r, err := p.RunningContainers(context.Background(), &fakeLister{containers: []container.Summary{
		ctr("db-1", "demo", "db", container.StateRunning), job, done}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Services, []string{"db"}) || !reflect.DeepEqual(r.OneOffs, map[string][]string{"api": {"job-1"}}) {
		t.Fatalf("running = %+v: want db, and the one-off of api apart", r)
	}
	if d := r.Describe(); d != "db, api (one-off)" {
		t.Errorf("Describe = %q", d)
	}
	if only := (Running{OneOffs: r.OneOffs}); only.Empty() {
		t.Error("a running one-off alone is not nothing running")
	}
	eng := &fakeLifecycle{}
	if err := p.Stop(context.Background(), eng, r); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), eng, r); err != nil {
		t.Fatal(err)
	}
	if want := []string{"stop job-1", "stop db-1", "start db-1", "start job-1"}; !reflect.DeepEqual(eng.calls, want) {
		t.Fatalf("calls = %v, want %v", eng.calls, want)
	}
}
