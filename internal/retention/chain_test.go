package retention

import (
	"context"
	"testing"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// incremental makes a complete backup at at whose source data builds on backup base (its
// archive a delta over base's, as the chain records it).
func (r *pruneRig) incremental(at time.Time, base string) string {
	r.t.Helper()
	be, err := r.store.Get("demo", base)
	if err != nil {
		r.t.Fatal(err)
	}
	bs, _ := be.Manifest.Source("data")
	w, err := r.store.Begin("demo", at)
	if err != nil {
		r.t.Fatal(err)
	}
	a, _ := w.Create("01-vol-data.tar")
	_, _ = a.Write([]byte("delta"))
	sum, size, err := a.Commit()
	if err != nil {
		r.t.Fatal(err)
	}
	src := backup.Source{Archive: "01-vol-data.tar", SHA256: sum, ArchiveSize: size,
		Base: &backup.Base{ID: base, Archive: bs.Archive, SHA256: bs.SHA256, Depth: bs.Depth() + 1}}
	src.Name, src.Kind, src.VolumeName = "data", project.KindVolume, "demo_data"
	if err := w.Commit(&backup.Manifest{CreatedAt: at, Reason: "manual", Compression: "none", Sources: []backup.Source{src}}); err != nil {
		r.t.Fatal(err)
	}
	return w.ID
}

// TestPruneKeepsBases: keeping only the newest backup of a chain full <- inc1 <- inc2
// keeps the whole chain (each as a base, naming who builds on it); an older backup outside
// the chain goes. Once the chain starts afresh (a new full backup), the old chain goes.
func TestPruneKeepsBases(t *testing.T) {
	r := newPruneRig(t)
	lone := r.complete(old)
	full := r.complete(old.Add(time.Hour))
	inc1 := r.incremental(old.Add(2*time.Hour), full)
	inc2 := r.incremental(old.Add(3*time.Hour), inc1)
	res, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	rules := keptRules(res)
	if rules[inc2] != KeptNewest || rules[inc1] != KeptBase || rules[full] != KeptBase {
		t.Errorf("kept %v, want %s newest and %s, %s as bases", rules, inc2, inc1, full)
	}
	if got := prunedIDs(res); len(got) != 1 || got[0] != lone {
		t.Errorf("removed %v, want only %s", got, lone)
	}
	e, err := r.store.Get("demo", inc2)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := e.Manifest.Source("data")
	links, err := r.store.Chain(e, src)
	if err != nil || len(links) != 3 || links[0].Entry.ID != full || links[2].Entry.ID != inc2 {
		t.Fatalf("chain of %s after prune: %v %v", inc2, links, err)
	}
	fresh := r.complete(old.Add(4 * time.Hour))
	res, err = Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.ids(); len(got) != 1 || got[0] != fresh {
		t.Errorf("after a new full backup and --keep 1: %v, want only %s (removed %v)", got, fresh, prunedIDs(res))
	}
	// A chain whose base is gone is broken: Chain says so.
	if _, err := r.store.Chain(e, src); err == nil {
		t.Error("the chain of a pruned base resolves")
	}
}
