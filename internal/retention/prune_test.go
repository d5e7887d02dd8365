package retention

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/moby/moby/client"
)

// fakeImages is an Engine whose only working calls are ImageRemove and ImageInspect (a
// pin is there unless fail names it; dry runs count them); anything else panics (the nil
// embedded interface), which proves Prune needs nothing more of the engine.
type fakeImages struct {
	stack.Engine
	removed []string
	fail    map[string]bool
}

func (f *fakeImages) ImageRemove(_ context.Context, ref string, _ client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
	f.removed = append(f.removed, ref)
	if f.fail[ref] {
		return client.ImageRemoveResult{}, errors.New("No such image: " + ref)
	}
	return client.ImageRemoveResult{}, nil
}

func (f *fakeImages) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if f.fail[ref] {
		return client.ImageInspectResult{}, errors.New("No such image: " + ref)
	}
	return client.ImageInspectResult{}, nil
}

type pruneRig struct {
	t     *testing.T
	store backup.Store
	eng   *fakeImages
	m     *stack.Env
}

func newPruneRig(t *testing.T) *pruneRig {
	s := backup.Local(filepath.Join(t.TempDir(), "backups"))
	eng := &fakeImages{fail: map[string]bool{}}
	st := backup.State{Dir: filepath.Join(t.TempDir(), "state", "engine")}
	return &pruneRig{t: t, store: s, eng: eng, m: &stack.Env{Engine: eng, Store: s, State: st}}
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

func (r *pruneRig) incomplete(at time.Time) string {
	w, err := r.store.Begin("demo", at)
	if err != nil {
		r.t.Fatal(err)
	}
	return w.ID
}

func (r *pruneRig) ids() []string {
	all, err := r.store.List("demo")
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range all {
		out = append(out, e.ID)
	}
	return out
}

func prunedIDs(res *maim.PruneResult) []string {
	var out []string
	for _, p := range res.Removed {
		out = append(out, p.ID)
	}
	return out
}

// keptRules maps each kept backup to its rule.
func keptRules(res *maim.PruneResult) map[string]string {
	out := map[string]string{}
	for _, k := range res.Kept {
		out[k.ID] = k.Rule
	}
	return out
}

var old = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func TestPruneKeepsNewestComplete(t *testing.T) {
	r := newPruneRig(t)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, r.complete(old.Add(time.Duration(i)*time.Hour)))
	}
	inc := r.incomplete(old.Add(10 * time.Hour)) // newest of all, but incomplete
	corrupt := r.complete(old.Add(11 * time.Hour))
	_ = os.Remove(filepath.Join(r.store.Dir("demo", corrupt), "01-vol-data.tar"))

	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	// newest first; incomplete and corrupt do not count toward keep and go
	want := []string{corrupt, inc, ids[2], ids[1], ids[0]}
	if !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("pruned %v, want %v", prunedIDs(got), want)
	}
	if left := r.ids(); !reflect.DeepEqual(left, ids[3:]) {
		t.Fatalf("left %v, want %v", left, ids[3:])
	}
	if got.Removed[0].Status != string(backup.StatusCorrupt) || got.Removed[1].Status != string(backup.StatusIncomplete) || got.Removed[2].Status != string(backup.StatusComplete) {
		t.Errorf("statuses %+v", got)
	}
	if got.Removed[2].Size != 10 || got.Removed[1].Size != 0 {
		t.Errorf("sizes %+v", got)
	}
	// pins of every pruned backup with a manifest, under the refs pinRef gives
	var wantRemoved []string
	for _, id := range []string{corrupt, ids[2], ids[1], ids[0]} {
		wantRemoved = append(wantRemoved, stack.PinRef("demo", "bot", id), stack.PinRef("demo", "db", id))
	}
	if !reflect.DeepEqual(r.eng.removed, wantRemoved) {
		t.Fatalf("ImageRemove calls %v, want %v", r.eng.removed, wantRemoved)
	}
	if got.Removed[2].Pins != 2 {
		t.Errorf("pins removed = %d, want 2", got.Removed[2].Pins)
	}
}

func TestPruneNeverTheNewestCompleteDefaultKeep(t *testing.T) {
	r := newPruneRig(t)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, r.complete(old.Add(time.Duration(i)*time.Minute)))
	}
	for _, keep := range []int{0, -1} { // 0 or less means the default 5
		got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: keep, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{ids[1], ids[0]}; !reflect.DeepEqual(prunedIDs(got), want) {
			t.Fatalf("keep %d: pruned %v, want %v", keep, prunedIDs(got), want)
		}
	}
	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Removed) != 6 || !reflect.DeepEqual(r.ids(), ids[6:]) {
		t.Fatalf("keep 1: pruned %v, left %v", prunedIDs(got), r.ids())
	}
}

func TestPruneSparesTheJournalsBackup(t *testing.T) {
	r := newPruneRig(t)
	needed := r.complete(old)
	a := r.complete(old.Add(time.Hour))
	b := r.complete(old.Add(2 * time.Hour))
	j := r.m.Journals("demo")
	if err := j.Save(&journal.Journal{Op: "upgrade", Phase: journal.PhaseHealth, BackupID: needed}); err != nil {
		t.Fatal(err)
	}
	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("pruned %v, want %v", prunedIDs(got), want)
	}
	if left := r.ids(); !reflect.DeepEqual(left, []string{needed, b}) {
		t.Fatalf("left %v", left)
	}
	// an incomplete backup an interrupted backing-up phase is writing is spared too
	inc := r.incomplete(old.Add(3 * time.Hour))
	_ = j.Save(&journal.Journal{Op: "upgrade", Phase: journal.PhaseBackingUp, BackupID: inc})
	got, _ = Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if slices.Contains(prunedIDs(got), inc) {
		t.Fatalf("pruned the journal's backup %s: %v", inc, prunedIDs(got))
	}

	// a torn journal stops prune: it cannot tell what is needed
	_ = os.WriteFile(r.m.Journals("demo").Path(), []byte("{"), 0o600)
	if _, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1}); err == nil {
		t.Fatal("Prune with an unreadable journal must fail")
	}
}

func TestPruneOlderThan(t *testing.T) {
	r := newPruneRig(t)
	now := time.Now().UTC()
	oldest := r.complete(now.Add(-72 * time.Hour))
	oldInc := r.incomplete(now.Add(-48 * time.Hour))
	recent := r.complete(now.Add(-2 * time.Hour))
	recentInc := r.incomplete(now.Add(-1 * time.Hour))
	newest := r.complete(now.Add(-30 * time.Minute))

	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1, OlderThan: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{oldInc, oldest}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("pruned %v, want %v", prunedIDs(got), want)
	}
	if left := r.ids(); !reflect.DeepEqual(left, []string{recent, recentInc, newest}) {
		t.Fatalf("left %v", left)
	}
}

func TestPruneDryRunRemovesNothing(t *testing.T) {
	r := newPruneRig(t)
	a := r.complete(old)
	inc := r.incomplete(old.Add(time.Hour))
	b := r.complete(old.Add(2 * time.Hour))
	before := r.ids()
	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{inc, a}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("would prune %v, want %v", prunedIDs(got), want)
	}
	if after := r.ids(); !reflect.DeepEqual(after, before) {
		t.Fatalf("dry run removed backups: %v -> %v", before, after)
	}
	if len(r.eng.removed) != 0 {
		t.Fatalf("dry run removed images %v", r.eng.removed)
	}
	if got.Removed[1].Pins != 2 || got.Removed[1].Size != 10 || got.FreedBytes != 10 {
		t.Errorf("dry run entry %+v, freed %d", got.Removed[1], got.FreedBytes)
	}
	// the plan is what a real prune then does
	done, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range done.Removed {
		if done.Removed[i] != got.Removed[i] {
			t.Errorf("removed %+v, the dry run said %+v", done.Removed[i], got.Removed[i])
		}
	}
	if done.FreedBytes != got.FreedBytes || !reflect.DeepEqual(r.ids(), []string{b}) {
		t.Errorf("freed %d (dry run: %d), left %v", done.FreedBytes, got.FreedBytes, r.ids())
	}
}

func TestPrunePinsCountedOnlyWhenRemoved(t *testing.T) {
	r := newPruneRig(t)
	a := r.complete(old)
	r.complete(old.Add(time.Hour))
	r.eng.fail[stack.PinRef("demo", "db", a)] = true // no pin for db (its image did not change)
	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Removed) != 1 || got.Removed[0].ID != a || got.Removed[0].Pins != 1 {
		t.Fatalf("pruned %+v, want %s with 1 pin removed", got, a)
	}
	if _, err := os.Stat(r.store.Dir("demo", a)); !os.IsNotExist(err) {
		t.Fatalf("a failed pin removal must not keep the backup: %v", err)
	}
}

func TestPruneNoBackups(t *testing.T) {
	r := newPruneRig(t)
	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{})
	if err != nil || len(got.Removed) != 0 || len(got.Kept) != 0 {
		t.Fatalf("Prune of nothing = %v, %v", got, err)
	}
}

// unreadable makes a backup whose manifest this build cannot read: written by a newer
// docker-maim (format_version 99), with its archive in place.
func (r *pruneRig) unreadable(at time.Time, manifest string) string {
	r.t.Helper()
	id := r.complete(at)
	if err := os.WriteFile(filepath.Join(r.store.Dir("demo", id), backup.ManifestName), []byte(manifest), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return id
}

func TestPruneKeepsUnreadableUnlessIncluded(t *testing.T) {
	r := newPruneRig(t)
	newer := r.unreadable(old, `{"format_version": 99, "id": "x", "reason": "manual", "sources": []}`)
	torn := r.unreadable(old.Add(time.Hour), `{"format_version": 1, "id"`)
	a := r.complete(old.Add(2 * time.Hour))
	b := r.complete(old.Add(3 * time.Hour))

	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	// unreadable backups neither go nor take a --keep slot
	if want := []string{a}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("pruned %v, want %v", prunedIDs(got), want)
	}
	if want := map[string]string{b: KeptNewest, torn: KeptUnreadable, newer: KeptUnreadable}; !reflect.DeepEqual(keptRules(got), want) {
		t.Fatalf("kept %v, want %v", keptRules(got), want)
	}
	for _, k := range got.Kept {
		if k.ID == newer && !strings.Contains(k.Why, "format version 99") {
			t.Errorf("why %s was kept does not say what is unreadable: %q", k.ID, k.Why)
		}
	}
	if left := r.ids(); !reflect.DeepEqual(left, []string{newer, torn, b}) {
		t.Fatalf("left %v", left)
	}
	if len(r.eng.removed) != 2 { // a's two pins only; nothing guessed for unreadable backups
		t.Errorf("ImageRemove calls %v", r.eng.removed)
	}

	got, err = Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1, IncludeUnreadable: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{torn, newer}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("with IncludeUnreadable pruned %v, want %v", prunedIDs(got), want)
	}
	if left := r.ids(); !reflect.DeepEqual(left, []string{b}) {
		t.Fatalf("left %v", left)
	}
}

func TestPruneKeepsTheLastUpgradesBackup(t *testing.T) {
	r := newPruneRig(t)
	up1 := r.completeAs(old, "upgrade")
	up2 := r.completeAs(old.Add(time.Hour), "upgrade")
	var manual []string
	for i := 2; i < 6; i++ {
		manual = append(manual, r.complete(old.Add(time.Duration(i)*time.Hour)))
	}
	// No history: rollback picks the newest complete upgrade backup.
	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rules := keptRules(got); rules[up2] != KeptLastUpgrade || rules[manual[3]] != KeptNewest || len(rules) != 2 {
		t.Fatalf("kept %v, want %s (last upgrade) and %s (newest)", rules, up2, manual[3])
	}
	// History names the last upgrade (an older one: up2's upgrade was not recorded).
	j := r.m.Journals("demo")
	if err := j.Append(journal.Record{Op: "upgrade", Result: "upgraded", BackupID: up1}); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(journal.Record{Op: "upgrade", Result: "nothing-to-do"}); err != nil {
		t.Fatal(err)
	}
	id, err := j.LastUpgradeBackup()
	if err != nil || id != up1 {
		t.Fatalf("rollback's default target is %q (%v), want %s", id, err, up1)
	}
	got, err = Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{manual[2], manual[1], manual[0], up2}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("pruned %v, want %v", prunedIDs(got), want)
	}
	if left := r.ids(); !reflect.DeepEqual(left, []string{up1, manual[3]}) {
		t.Fatalf("left %v", left)
	}
	for _, ref := range r.eng.removed {
		if strings.HasSuffix(ref, "."+up1) {
			t.Errorf("removed the pin %s of the last upgrade's backup", ref)
		}
	}
	if k := got.Kept[len(got.Kept)-1]; k.ID != up1 || k.Rule != KeptLastUpgrade || !strings.Contains(k.Why, "rollback") {
		t.Errorf("kept entry %+v, want %s as the last upgrade's backup, saying rollback needs it", k, up1)
	}
}

func TestPruneSafetyBackupsFirst(t *testing.T) {
	r := newPruneRig(t)
	m1 := r.complete(old)
	s1 := r.completeAs(old.Add(1*time.Hour), "pre-restore")
	m2 := r.complete(old.Add(2 * time.Hour))
	s2 := r.completeAs(old.Add(3*time.Hour), "pre-rollback")
	inc := r.incomplete(old.Add(4 * time.Hour))

	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 3, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	// the two manual backups fill the keep slots before the newer safety ones
	if want := []string{inc, s1}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("keep 3: pruned %v, want %v", prunedIDs(got), want)
	}
	if want := map[string]string{m2: KeptNewest, m1: KeptNewest, s2: KeptNewest}; !reflect.DeepEqual(keptRules(got), want) {
		t.Fatalf("keep 3: kept %v, want %v", keptRules(got), want)
	}
	got, err = Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	// removal order: broken, then safety backups, then the others
	if want := []string{inc, s2, s1, m1}; !reflect.DeepEqual(prunedIDs(got), want) {
		t.Fatalf("keep 1: pruned %v, want %v", prunedIDs(got), want)
	}
	if got.Removed[1].Reason != "pre-rollback" || got.Removed[3].Reason != "manual" {
		t.Errorf("removed entries do not carry their reason: %+v", got.Removed)
	}
	if left := r.ids(); !reflect.DeepEqual(left, []string{m2}) {
		t.Fatalf("left %v", left)
	}
}

func TestPruneSaysWhyEachIsKept(t *testing.T) {
	r := newPruneRig(t)
	now := time.Now().UTC()
	needed := r.complete(now.Add(-96 * time.Hour))
	up := r.completeAs(now.Add(-72*time.Hour), "upgrade")
	young := r.completeAs(now.Add(-time.Hour), "pre-restore")
	newest := r.complete(now.Add(-time.Minute))
	if err := r.m.Journals("demo").Save(&journal.Journal{Op: "restore", Phase: journal.PhaseHealth, BackupID: needed}); err != nil {
		t.Fatal(err)
	}
	got, err := Prune(context.Background(), r.m, "demo", maim.PruneOptions{Keep: 1, OlderThan: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Removed) != 0 {
		t.Fatalf("pruned %v", prunedIDs(got))
	}
	want := []maim.Kept{
		{ID: newest, Rule: KeptNewest}, {ID: young, Rule: KeptYoung}, {ID: up, Rule: KeptLastUpgrade}, {ID: needed, Rule: KeptJournal},
	}
	if len(got.Kept) != len(want) {
		t.Fatalf("kept %+v", got.Kept)
	}
	for i, k := range got.Kept { // newest first
		if k.ID != want[i].ID || k.Rule != want[i].Rule || k.Why == "" || k.Status != "complete" {
			t.Errorf("kept[%d] = %+v, want %s kept by %s with a reason", i, k, want[i].ID, want[i].Rule)
		}
	}
	if !strings.Contains(got.Kept[3].Why, "interrupted restore") {
		t.Errorf("journal rule says %q", got.Kept[3].Why)
	}
}

// TestLastUpgradeBackupSkipsRemoved: the history names an upgrade whose backup was removed
// by hand since; rollback's default target (and what prune protects) is then the newest
// complete upgrade backup, not an ID that no longer resolves.
func TestLastUpgradeBackupSkipsRemoved(t *testing.T) {
	r := newPruneRig(t)
	up := r.completeAs(old, "upgrade")
	gone := r.completeAs(old.Add(time.Hour), "upgrade")
	j := r.m.Journals("demo")
	if err := j.Append(journal.Record{Op: "upgrade", Result: "upgraded", BackupID: gone}); err != nil {
		t.Fatal(err)
	}
	if id, err := j.LastUpgradeBackup(); err != nil || id != gone {
		t.Fatalf("with the backup present: %q (%v), want %s", id, err, gone)
	}
	if err := r.store.Remove("demo", gone); err != nil {
		t.Fatal(err)
	}
	if id, err := j.LastUpgradeBackup(); err != nil || id != up {
		t.Fatalf("after removing %s: %q (%v), want %s", gone, id, err, up)
	}
}
