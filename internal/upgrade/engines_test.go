package upgrade

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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
		return &pruneRig{t: t, store: s, eng: eng, m: &Manager{Env: stack.Env{Engine: eng, Store: s, State: st}}}
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
	got, err := r.a.m.Prune(context.Background(), "demo", PruneOptions{Keep: 1})
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
	got, err = r.b.m.Prune(context.Background(), "demo", PruneOptions{Keep: 1})
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
	got, err := r.a.m.Prune(context.Background(), "demo", PruneOptions{Keep: 1, IncludeUnrecorded: true})
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

// Rollback's default target and restore's newest backup are the engine's own: another
// engine's newer upgrade or manual backup is never picked, nor one of unrecorded origin
// (unless the engine's own history names it).
func TestRollbackAndRestoreTargetsAreTheEnginesOwn(t *testing.T) {
	r := newEnginesRig(t)
	unrecorded := r.legacy.completeAs(old, "upgrade")
	aUp := r.a.completeAs(old.Add(time.Hour), "upgrade")
	aManual := r.a.complete(old.Add(2 * time.Hour))
	bUp := r.b.completeAs(old.Add(3*time.Hour), "upgrade")
	bManual := r.b.complete(old.Add(4 * time.Hour))

	// No history: the newest complete upgrade backup of this engine.
	if id, err := r.a.m.lastUpgradeBackup(r.a.m.journals("demo")); err != nil || id != aUp {
		t.Errorf("A's rollback target = %q (%v), want %s (not B's %s)", id, err, aUp, bUp)
	}
	if e, _, err := r.a.m.restoreTarget("demo", ""); err != nil || e.ID != aManual {
		t.Errorf("A's restore target = %q (%v), want %s (not B's %s)", e.ID, err, aManual, bManual)
	}
	// A history that names another engine's backup (an ID of another backup dir that
	// happens to exist here) does not make it the target.
	j := r.a.m.journals("demo")
	if err := j.Append(Record{Op: "upgrade", Result: string(OutcomeUpgraded), BackupID: bUp}); err != nil {
		t.Fatal(err)
	}
	if id, err := r.a.m.lastUpgradeBackup(j); err != nil || id != aUp {
		t.Errorf("with B's ID in A's history: %q (%v), want %s", id, err, aUp)
	}
	// The engine's own history names the unrecorded one: it was this engine's upgrade.
	if err := j.Append(Record{Op: "upgrade", Result: string(OutcomeUpgraded), BackupID: unrecorded}); err != nil {
		t.Fatal(err)
	}
	if id, err := r.a.m.lastUpgradeBackup(j); err != nil || id != unrecorded {
		t.Errorf("with the unrecorded ID in A's history: %q (%v), want %s", id, err, unrecorded)
	}

	// An engine with only an unrecorded backup has no default target.
	c := newEnginesRig(t)
	c.legacy.completeAs(old, "upgrade")
	if id, err := c.a.m.lastUpgradeBackup(c.a.m.journals("demo")); err == nil {
		t.Errorf("rollback target among unrecorded backups only = %q, want none", id)
	}
	if e, _, err := c.a.m.restoreTarget("demo", ""); err == nil {
		t.Errorf("restore target among unrecorded backups only = %q, want none", e.ID)
	}

	// An explicit ID of another engine's backup is allowed, and says so.
	e, _, err := r.a.m.restoreTarget("demo", bManual)
	if err != nil || e.ID != bManual {
		t.Fatalf("restore of B's %s by ID = %q, %v; want it", bManual, e.ID, err)
	}
	if n := originNotice(e); !strings.Contains(n, "another engine ENGINE-B (context prod)") {
		t.Errorf("notice for B's backup = %q, want it to name engine B", n)
	}
	if e, _, err := r.a.m.restoreTarget("demo", unrecorded); err != nil || !strings.Contains(originNotice(e), "did not record its engine") {
		t.Errorf("notice for the unrecorded backup = %q (%v)", originNotice(e), err)
	}
	if e, _, err := r.a.m.restoreTarget("demo", aManual); err != nil || originNotice(e) != "" {
		t.Errorf("notice for A's own backup = %q (%v), want none", originNotice(e), err)
	}
}

// Resolving an interrupted operation from the backup dir its journal names keeps the
// engine's view: the store of that dir is still this engine's.
func TestForJournalKeepsTheOrigin(t *testing.T) {
	r := newEnginesRig(t)
	there := t.TempDir()
	got, err := r.a.m.forJournal(&Journal{Op: "upgrade", Phase: PhaseHealth, BackupDir: there})
	if err != nil || got.Store.Location() != there || got.Store.Origin != r.a.store.Origin {
		t.Fatalf("forJournal = %+v, %v; want the store of %s with origin %+v", got.Store, err, there, r.a.store.Origin)
	}
}
