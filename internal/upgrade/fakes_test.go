package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/docker-maim/docker-maim/internal/volume/volumetest"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker/compose/v5/pkg/api"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeCtr is one container of the fake engine.
type fakeCtr struct {
	id, service, ref, imageID string
	running                   bool
}

// txEngine is a small simulated engine for the transaction: containers by service,
// local tags, pulls that move a tag, a health state per image. It reuses the prune tests'
// fakeImages (ImageRemove); any call it does not implement panics (the nil Engine inside
// fakeImages), which keeps the set of engine calls the transaction makes visible.
// calls records, in order, every call that changes something: "pull REF", "tag REF",
// "stop SERVICE", "start SERVICE", and the composer's "up SERVICE=IMAGE ...".
type txEngine struct {
	*fakeImages
	mu        sync.Mutex
	ctrs      []*fakeCtr
	images    map[string]bool     // image IDs present (tagged or not)
	tags      map[string]string   // ref -> image ID
	pullTo    map[string]string   // ref -> the image ID a pull moves it to
	unhealthy map[string]bool     // image IDs whose containers fail the health gate
	env       map[string][]string // image ID -> its environment (KEY=VALUE)
	errs      map[string]error    // a call whose record starts with the key fails
	hooks     map[string]func()   // run (once) before a call whose record starts with the key
	calls     []string
	seq       int
}

func newTxEngine() *txEngine {
	return &txEngine{
		fakeImages: &fakeImages{fail: map[string]bool{}},
		images:     map[string]bool{}, tags: map[string]string{}, pullTo: map[string]string{}, unhealthy: map[string]bool{},
		errs: map[string]error{}, hooks: map[string]func(){},
	}
}

// record notes a call and returns the error injected for it. The caller holds f.mu.
func (f *txEngine) record(call string) error {
	f.calls = append(f.calls, call)
	for k, h := range f.hooks {
		if strings.HasPrefix(call, k) {
			delete(f.hooks, k)
			h()
		}
	}
	for k, err := range f.errs {
		if strings.HasPrefix(call, k) {
			return err
		}
	}
	return nil
}

func (f *txEngine) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *txEngine) add(service, ref string) {
	f.seq++
	f.ctrs = append(f.ctrs, &fakeCtr{id: fmt.Sprintf("%s-%d", service, f.seq), service: service, ref: ref, imageID: f.tags[ref], running: true})
}

func (f *txEngine) byID(id string) *fakeCtr {
	for _, c := range f.ctrs {
		if c.id == id {
			return c
		}
	}
	return nil
}

// running describes each service's containers: "bot=sha256:old" (running) or "bot=sha256:old(stopped)".
func (f *txEngine) running() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.ctrs {
		s := c.service + "=" + c.imageID
		if !c.running {
			s += "(stopped)"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func (f *txEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r client.ContainerListResult
	for _, c := range f.ctrs {
		st := container.StateExited
		if c.running {
			st = container.StateRunning
		}
		r.Items = append(r.Items, container.Summary{ID: c.id, Image: c.ref, ImageID: c.imageID, State: st,
			Labels: map[string]string{project.LabelProject: "demo", project.LabelService: c.service}})
	}
	return r, nil
}

func (f *txEngine) ContainerStop(_ context.Context, id string, _ client.ContainerStopOptions) (client.ContainerStopResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byID(id)
	if err := f.record("stop " + c.service); err != nil {
		return client.ContainerStopResult{}, err
	}
	c.running = false
	return client.ContainerStopResult{}, nil
}

func (f *txEngine) ContainerStart(_ context.Context, id string, _ client.ContainerStartOptions) (client.ContainerStartResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byID(id)
	if err := f.record("start " + c.service); err != nil {
		return client.ContainerStartResult{}, err
	}
	c.running = true
	return client.ContainerStartResult{}, nil
}

func (f *txEngine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byID(id)
	if c == nil {
		return client.ContainerInspectResult{}, errors.New("No such container: " + id)
	}
	st := &container.State{Status: container.StateExited, StartedAt: "2026-01-01T00:00:00Z"}
	if c.running {
		st.Status, st.Running = container.StateRunning, true
		st.Health = &container.Health{Status: container.Healthy}
		if f.unhealthy[c.imageID] {
			st.Health = &container.Health{Status: container.Unhealthy, Log: []*container.HealthcheckResult{{Output: "migration failed"}}}
		}
	}
	return client.ContainerInspectResult{Container: container.InspectResponse{ID: c.id, Name: "/demo-" + c.id, State: st,
		HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}}}}, nil
}

func (f *txEngine) ContainerLogs(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	return io.NopCloser(strings.NewReader("")), nil
}

func (f *txEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.tags[ref]
	if id == "" && f.images[ref] {
		id = ref
	}
	if id == "" {
		return client.ImageInspectResult{}, errors.New("No such image: " + ref)
	}
	var r client.ImageInspectResult
	r.ID = id
	if env := f.env[id]; env != nil {
		r.Config = &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Env: env}}
	}
	return r, nil
}

type fakePull struct{ io.Reader }

func (fakePull) Close() error { return nil }
func (fakePull) JSONMessages(context.Context) iter.Seq2[jsonstream.Message, error] {
	return func(func(jsonstream.Message, error) bool) {}
}
func (fakePull) Wait(context.Context) error { return nil }

func (f *txEngine) ImagePull(_ context.Context, ref string, _ client.ImagePullOptions) (client.ImagePullResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("pull " + ref); err != nil {
		return nil, err
	}
	if id, ok := f.pullTo[ref]; ok {
		f.tags[ref] = id
	}
	return fakePull{strings.NewReader("")}, nil
}

func (f *txEngine) ImageTag(_ context.Context, o client.ImageTagOptions) (client.ImageTagResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := o.Source
	if t, ok := f.tags[id]; ok {
		id = t
	}
	if err := f.record("tag " + o.Target + "=" + id); err != nil {
		return client.ImageTagResult{}, err
	}
	f.tags[o.Target] = id
	return client.ImageTagResult{}, nil
}

func (f *txEngine) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	return client.ServerVersionResult{Version: "test", APIVersion: "1.41"}, nil
}

func (f *txEngine) DiskUsage(context.Context, client.DiskUsageOptions) (client.DiskUsageResult, error) {
	return client.DiskUsageResult{}, nil
}

func (f *txEngine) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	return client.PingResult{}, nil
}

// fakeComposer recreates every service of the project it is handed on the image its
// reference names now, recording "up SERVICE=IMAGE ..." in the engine's calls. The Nth
// call (1-based) fails when fail[N] is set, before anything is recreated. A container
// created on migrate's image writes "migrated" into the data dir, as a new version
// migrating its data would.
type fakeComposer struct {
	eng     *txEngine
	fail    map[int]error
	ups     int
	migrate string // image ID
	data    string // file the migration rewrites
}

func (c *fakeComposer) Up(_ context.Context, p *types.Project, _ api.UpOptions) error {
	f := c.eng
	f.mu.Lock()
	defer f.mu.Unlock()
	c.ups++
	names := p.ServiceNames()
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+"="+f.tags[p.Services[n].Image])
	}
	if err := f.record("up " + strings.Join(parts, " ")); err != nil {
		return err
	}
	if err := c.fail[c.ups]; err != nil {
		return err
	}
	for _, n := range names {
		kept := f.ctrs[:0]
		for _, ct := range f.ctrs {
			if ct.service != n {
				kept = append(kept, ct)
			}
		}
		f.ctrs = kept
		f.add(n, p.Services[n].Image)
		if f.tags[p.Services[n].Image] == c.migrate && c.data != "" {
			if err := os.WriteFile(c.data, []byte("migrated"), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// txRig is a project "demo" of two services, bot (bot:latest, its data in ./data) and db
// (db:16) that bot depends on, both running; bot:latest's pull moves the tag from
// sha256:old to sha256:new, db:16 stays sha256:db.
type txRig struct {
	t     *testing.T
	dir   string
	data  string // ./data/state.txt
	eng   *txEngine
	comp  *fakeComposer
	mover volumetest.DirMover
	store backup.Store
	m     *Manager
	p     *project.Project
	// ext is the project's top-level x-maim extension (nil: none).
	ext any
	// dbVolumes and dbEnv are service db's mounts and environment (none: nil).
	dbVolumes []types.ServiceVolumeConfig
	dbEnv     types.MappingWithEquals
}

func newTxRig(t *testing.T) *txRig {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &txRig{t: t, dir: dir, data: filepath.Join(dir, "data", "state.txt")}
	if err := os.WriteFile(r.data, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.eng = newTxEngine()
	r.eng.tags["bot:latest"] = "sha256:old"
	r.eng.tags["db:16"] = "sha256:db"
	r.eng.pullTo["bot:latest"] = "sha256:new"
	for _, id := range []string{"sha256:old", "sha256:db", "sha256:new"} {
		r.eng.images[id] = true
	}
	r.eng.add("db", "db:16")
	r.eng.add("bot", "bot:latest")
	r.comp = &fakeComposer{eng: r.eng, fail: map[int]error{}, migrate: "sha256:new", data: r.data}
	r.mover = volumetest.DirMover{FailBackup: map[string]error{}}
	r.store = backup.Local(filepath.Join(t.TempDir(), "backups"))
	r.p = r.model()
	r.m = &Manager{Env: stack.Env{
		PollInterval: 5e6,
		Engine:       r.eng, Compose: r.comp, Store: r.store,
		Snapshots: &snapshot.Service{Engine: r.eng, Mover: r.mover, Store: r.store},
		State:     backup.State{Dir: filepath.Join(t.TempDir(), "state", "engine")},
		Load:      func(context.Context, project.Options) (*project.Project, error) { return r.model(), nil },
	}}
	return r
}

// model is the project as its (unchanging) compose file describes it.
func (r *txRig) model() *project.Project {
	db := types.ServiceConfig{Name: "db"}
	db.Image = "db:16"
	db.Volumes, db.Environment = r.dbVolumes, r.dbEnv
	bot := types.ServiceConfig{Name: "bot"}
	bot.Image = "bot:latest"
	bot.DependsOn = types.DependsOnConfig{"db": {Condition: types.ServiceConditionStarted, Required: true}}
	bot.Volumes = []types.ServiceVolumeConfig{{Type: types.VolumeTypeBind, Source: filepath.Join(r.dir, "data"), Target: "/data"}}
	pp := &project.Project{Project: &types.Project{
		Name: "demo", WorkingDir: r.dir, ComposeFiles: []string{filepath.Join(r.dir, "compose.yaml")},
		Services: types.Services{"db": db, "bot": bot},
	}}
	if r.ext != nil {
		pp.Extensions = types.Extensions{"x-maim": r.ext}
	}
	return pp
}

// fastHealth passes a running, healthy container at once.
var fastHealth = maim.HealthOptions{StablePeriod: -1, Timeout: 5e9}

func (r *txRig) dataNow() string {
	r.t.Helper()
	b, err := os.ReadFile(r.data)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

func (r *txRig) journal() *Journal {
	r.t.Helper()
	jr, err := r.m.journals("demo").Load()
	if err != nil {
		r.t.Fatal(err)
	}
	return jr
}

func (r *txRig) history() []Record {
	r.t.Helper()
	h, err := r.m.journals("demo").History()
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

func (r *txRig) backups() []backup.Entry {
	r.t.Helper()
	all, err := r.store.List("demo")
	if err != nil {
		r.t.Fatal(err)
	}
	return all
}
