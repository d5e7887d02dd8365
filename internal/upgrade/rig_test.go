package upgrade

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/moby/moby/client"
)

// fakeImages is an Engine whose only working call is ImageRemove; anything else panics
// (the nil embedded interface), which proves Prune needs nothing more of the engine.
type fakeImages struct {
	Engine
	removed []string
	fail    map[string]bool
}

type pruneRig struct {
	t     *testing.T
	store backup.Store
	eng   *fakeImages
	m     *Manager
}

func newPruneRig(t *testing.T) *pruneRig {
	s := backup.Local(filepath.Join(t.TempDir(), "backups"))
	eng := &fakeImages{fail: map[string]bool{}}
	st := backup.State{Dir: filepath.Join(t.TempDir(), "state", "engine")}
	return &pruneRig{t: t, store: s, eng: eng, m: &Manager{Env: stack.Env{Engine: eng, Store: s, State: st}}}
}

// complete makes a complete manual backup created at at, of services bot and db.
func (r *pruneRig) complete(at time.Time) string {
	r.t.Helper()
	return r.completeAs(at, "manual")
}

// completeAs makes a complete backup with the given reason.
func (r *pruneRig) completeAs(at time.Time, reason string) string {
	r.t.Helper()
	w, err := r.store.Begin("demo", at)
	if err != nil {
		r.t.Fatal(err)
	}
	a, _ := w.Create("01-vol-data.tar")
	_, _ = a.Write([]byte("0123456789"))
	sum, size, err := a.Commit()
	if err != nil {
		r.t.Fatal(err)
	}
	m := &backup.Manifest{CreatedAt: at, Reason: reason, Compression: "none",
		Services: []backup.Service{{Name: "bot"}, {Name: "db"}},
		Sources:  []backup.Source{{Archive: "01-vol-data.tar", SHA256: sum, ArchiveSize: size}}}
	m.Sources[0].Name, m.Sources[0].Kind, m.Sources[0].VolumeName = "data", project.KindVolume, "demo_data"
	if err := w.Commit(m); err != nil {
		r.t.Fatal(err)
	}
	return w.ID
}

var old = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// enginesRig is two engines (and root beside the user on the first) whose project demo
// keeps its backups in one backup dir, each with its own state dir.
type enginesRig struct {
	a, b, rootA *pruneRig
	legacy      *pruneRig // a build that recorded no origin
}

func newEnginesRig(t *testing.T) *enginesRig {
	dir := filepath.Join(t.TempDir(), "backups")
	state := t.TempDir()
	mk := func(o backup.Origin, stateDir string) *pruneRig {
		s := backup.Local(dir)
		s.Origin = o
		eng := &fakeImages{fail: map[string]bool{}}
		st := backup.State{Dir: filepath.Join(state, stateDir)}
		return &pruneRig{t: t, store: s, eng: eng, m: &Manager{Env: stack.Env{Engine: eng, Store: s, State: st}}}
	}
	return &enginesRig{
		a:      mk(backup.Origin{EngineID: "ENGINE-A", Context: "default", UID: "1000", User: "alice"}, "alice/ENGINE-A"),
		b:      mk(backup.Origin{EngineID: "ENGINE-B", Context: "prod", UID: "1000", User: "alice"}, "alice/ENGINE-B"),
		rootA:  mk(backup.Origin{EngineID: "ENGINE-A", Context: "default", UID: "0", User: "root"}, "root/ENGINE-A"),
		legacy: mk(backup.Origin{}, "alice/legacy"),
	}
}
func (f *fakeImages) ImageRemove(_ context.Context, ref string, _ client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
	f.removed = append(f.removed, ref)
	if f.fail[ref] {
		return client.ImageRemoveResult{}, errors.New("No such image: " + ref)
	}
	return client.ImageRemoveResult{}, nil
}
