package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeStatusEngine answers the engine calls status makes from fixed containers and images.
type fakeStatusEngine struct {
	containers []container.Summary
	health     map[string]container.HealthStatus // by container ID, what an inspect says
	images     map[string]image.InspectResponse  // by image ID; others fail to inspect
	listErr    error
}

func (f *fakeStatusEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: append([]container.Summary(nil), f.containers...)}, f.listErr
}

func (f *fakeStatusEngine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	st := &container.State{}
	if h, ok := f.health[id]; ok {
		st.Health = &container.Health{Status: h}
	}
	return client.ContainerInspectResult{Container: container.InspectResponse{ID: id, State: st}}, nil
}

func (f *fakeStatusEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	ii, ok := f.images[ref]
	if !ok {
		return client.ImageInspectResult{}, errors.New("no such image: " + ref)
	}
	return client.ImageInspectResult{InspectResponse: ii}, nil
}

func summary(id, svc, img, imgID, state string, health *container.HealthSummary, labels ...string) container.Summary {
	l := map[string]string{project.LabelProject: "demo", project.LabelService: svc}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	return container.Summary{ID: id, Names: []string{"/demo-" + svc + "-" + id}, Image: img, ImageID: imgID,
		State: container.ContainerState(state), Health: health, Labels: l}
}

// maibotProject is a MaiBot project whose core binds confDir at maibot's config dir.
func maibotProject(confDir string) *project.Project {
	core, db := types.ServiceConfig{Name: "core"}, types.ServiceConfig{Name: "db"}
	core.Image, db.Image = "example/maibot:1.0.0", "postgres:16"
	core.Volumes = []types.ServiceVolumeConfig{{Type: types.VolumeTypeBind, Source: confDir, Target: "/MaiMBot/config"}}
	return &project.Project{Project: &types.Project{Name: "demo", Services: types.Services{"core": core, "db": db}}}
}

// Status answers from the engine (containers, their health and images), the history and
// journal in the state dir, and the backup store: a real store and state dir here, only the
// engine is a fake.
func TestStatusFromEngineJournalAndStore(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	store := backup.Local(filepath.Join(tmp, "backups"))
	state := backup.State{Dir: filepath.Join(tmp, "state")}
	conf := filepath.Join(tmp, "config")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "bot_config.toml"), []byte("[inner]\nversion = \"7.1.0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Two backups; the older one is the last upgrade's, with the versions it recorded.
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	commit := func(at time.Time, versions map[string]string) string {
		w, err := store.Begin("demo", at)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(&backup.Manifest{CreatedAt: at, Reason: "upgrade", Compression: "none", AppVersions: versions}); err != nil {
			t.Fatal(err)
		}
		return w.ID
	}
	upID := commit(now, map[string]string{"maibot.config.bot_config.toml": "7.0.0"})
	commit(now.Add(time.Hour), nil)

	j := journal.Journals{State: state, Store: store, Project: "demo"}
	for _, r := range []api.Record{
		{Op: "upgrade", Result: "upgraded", BackupID: "old"},
		{Op: "upgrade", Result: string(api.OutcomeUpgraded), BackupID: upID},
		{Op: "upgrade", Result: string(api.OutcomeNothingToDo)},
		{Op: "backup", Result: "ok"},
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Save(&api.Journal{Op: "restore", Project: "demo", Phase: "restoring"}); err != nil {
		t.Fatal(err)
	}

	eng := &fakeStatusEngine{
		containers: []container.Summary{
			summary("b2", "web", "web:2.0.0", "sha256:web", "running", &container.HealthSummary{Status: container.Healthy}),
			summary("a1", "web", "web:2.0.0", "sha256:web", "running", nil),
			summary("c3", "db", "postgres:16", "sha256:gone", "exited", nil),
			summary("d4", "web", "web:2.0.0", "sha256:web", "running", nil, project.LabelOneOff, "True"),
		},
		health: map[string]container.HealthStatus{"a1": container.Starting},
		images: map[string]image.InspectResponse{"sha256:web": {ID: "sha256:web", RepoDigests: []string{"web@sha256:abc", "web@sha256:def"},
			Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Labels: map[string]string{"org.opencontainers.image.version": "2.0.1"}}}}},
	}
	st, err := status(ctx, eng, maibotProject(conf), store, state)
	if err != nil {
		t.Fatal(err)
	}

	wantServices := []api.ServiceStatus{
		{Service: "db", Container: "demo-db-c3", Image: "postgres:16", ImageID: "sha256:gone", State: "exited"},
		{Service: "web", Container: "demo-web-a1", Image: "web:2.0.0", ImageID: "sha256:web", State: "running", Health: "starting", Version: "2.0.1", Digest: "web@sha256:abc"},
		{Service: "web", Container: "demo-web-b2", Image: "web:2.0.0", ImageID: "sha256:web", State: "running", Health: "healthy", Version: "2.0.1", Digest: "web@sha256:abc"},
	}
	if !reflect.DeepEqual(st.Services, wantServices) {
		t.Errorf("services:\n got %+v\nwant %+v", st.Services, wantServices)
	}
	if st.Project != "demo" || st.Backups != 2 {
		t.Errorf("project %q, backups %d", st.Project, st.Backups)
	}
	if st.LastOp == nil || st.LastOp.Op != "backup" {
		t.Errorf("last op: %+v", st.LastOp)
	}
	if st.LastUpgrade == nil || st.LastUpgrade.BackupID != upID {
		t.Errorf("last upgrade (the last that did something): %+v", st.LastUpgrade)
	}
	if want := map[string]string{"maibot.config.bot_config.toml": "7.1.0"}; !reflect.DeepEqual(st.AppVersions, want) {
		t.Errorf("app versions now: %v", st.AppVersions)
	}
	if want := map[string]string{"maibot.config.bot_config.toml": "7.0.0"}; !reflect.DeepEqual(st.LastUpgradeAppVersions, want) {
		t.Errorf("app versions before the last upgrade: %v", st.LastUpgradeAppVersions)
	}
	if in := st.Interrupted; in == nil || in.Journal.Op != "restore" || len(in.Resolve) != 1 ||
		!strings.HasPrefix(in.Resolve[0], "docker maim -p demo rollback ") || !strings.HasSuffix(in.Resolve[0], "before the restore") {
		t.Errorf("interrupted: %+v", st.Interrupted)
	}
}

// A project with nothing run, no history and no backups has empty (not null) services and
// nothing else; an engine that cannot list fails status.
func TestStatusOfAnEmptyProjectAndAFailingEngine(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	store := backup.Local(filepath.Join(tmp, "backups"))
	state := backup.State{Dir: filepath.Join(tmp, "state")}
	p := &project.Project{Project: &types.Project{Name: "demo"}}
	st, err := status(ctx, &fakeStatusEngine{}, p, store, state)
	if err != nil {
		t.Fatal(err)
	}
	want := &api.StatusResult{Project: "demo", Services: []api.ServiceStatus{}}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("got %+v, want %+v", st, want)
	}
	boom := errors.New("engine gone")
	if _, err := status(ctx, &fakeStatusEngine{listErr: boom}, p, store, state); !errors.Is(err, boom) {
		t.Errorf("failing engine: %v", err)
	}
}
