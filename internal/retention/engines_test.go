package retention

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/stack"
)

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
		return &pruneRig{t: t, store: s, eng: eng, m: &stack.Env{Engine: eng, Store: s, State: st}}
	}
	return &enginesRig{
		a:      mk(backup.Origin{EngineID: "ENGINE-A", Context: "default", UID: "1000", User: "alice"}, "alice/ENGINE-A"),
		b:      mk(backup.Origin{EngineID: "ENGINE-B", Context: "prod", UID: "1000", User: "alice"}, "alice/ENGINE-B"),
		rootA:  mk(backup.Origin{EngineID: "ENGINE-A", Context: "default", UID: "0", User: "root"}, "root/ENGINE-A"),
		legacy: mk(backup.Origin{}, "alice/legacy"),
	}
}

func allIDs(t *testing.T, s backup.Store) []string {
	all, err := s.ListAll("demo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range all {
		out = append(out, e.ID)
	}
	return out
}

// Prune on one engine never removes another engine's backups (its rollback target among
// them), another user's on the same engine (whose journal and history it cannot see),
// nor one an older build made without recording its engine.
func TestPruneOnlyItsOwnEnginesAndUsersBackups(t *testing.T) {
	r := newEnginesRig(t)
	unrecorded := r.legacy.completeAs(old, "upgrade")
	bUp := r.b.completeAs(old.Add(time.Hour), "upgrade")
	var bManual []string
	for i := 2; i < 5; i++ {
		bManual = append(bManual, r.b.complete(old.Add(time.Duration(i)*time.Hour)))
	}
	rootManual := r.rootA.complete(old.Add(5 * time.Hour))
	var aManual []string
	for i := 6; i < 10; i++ {
		aManual = append(aManual, r.a.complete(old.Add(time.Duration(i)*time.Hour)))
	}
	got, err := Prune(context.Background(), r.a.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{aManual[2], aManual[1], aManual[0]}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("A pruned %v, want only its own %v", prunedIDs(got), want)
	}
	rules := keptRules(got)
	if rules[aManual[3]] != KeptNewest || rules[rootManual] != KeptOtherUser || rules[unrecorded] != KeptUnrecorded {
		t.Errorf("A kept %v; want %s newest, %s as another user's, %s as unrecorded", rules, aManual[3], rootManual, unrecorded)
	}
	for _, id := range append([]string{bUp}, bManual...) {
		if _, ok := rules[id]; ok {
			t.Errorf("A's prune reports B's backup %s (%s): another engine's backups are not its business", id, rules[id])
		}
	}
	left := allIDs(t, r.a.store)
	for _, id := range append([]string{unrecorded, bUp, rootManual, aManual[3]}, bManual...) {
		if !slices.Contains(left, id) {
			t.Errorf("%s was removed by A's prune", id)
		}
	}

	// B's prune keeps its last upgrade's backup (the rollback target) and its newest.
	got, err = Prune(context.Background(), r.b.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{bManual[1], bManual[0]}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("B pruned %v, want %v", prunedIDs(got), want)
	}
	if rules := keptRules(got); rules[bUp] != KeptLastUpgrade {
		t.Errorf("B kept %v; want %s as its last upgrade's", rules, bUp)
	}
}

// --include-unrecorded lets an engine's prune treat the backups an older build made
// without recording its engine as its own (the user says they are).
func TestPruneIncludeUnrecorded(t *testing.T) {
	r := newEnginesRig(t)
	unrecorded := r.legacy.complete(old)
	own := r.a.complete(old.Add(time.Hour))
	got, err := Prune(context.Background(), r.a.m, "demo", maim.PruneOptions{Keep: 1, IncludeUnrecorded: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{unrecorded}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("pruned %v, want %v", prunedIDs(got), want)
	}
	if rules := keptRules(got); rules[own] != KeptNewest {
		t.Errorf("kept %v", rules)
	}
}
