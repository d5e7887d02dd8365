package upgrade

import (
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/restore"
	"github.com/docker-maim/docker-maim/internal/stack"
)

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
	if id, err := r.a.m.journals("demo").LastUpgradeBackup(); err != nil || id != aUp {
		t.Errorf("A's rollback target = %q (%v), want %s (not B's %s)", id, err, aUp, bUp)
	}
	if e, _, err := restore.Target(&r.a.m.Env, "demo", ""); err != nil || e.ID != aManual {
		t.Errorf("A's restore target = %q (%v), want %s (not B's %s)", e.ID, err, aManual, bManual)
	}
	// A history that names another engine's backup (an ID of another backup dir that
	// happens to exist here) does not make it the target.
	j := r.a.m.journals("demo")
	if err := j.Append(Record{Op: "upgrade", Result: string(OutcomeUpgraded), BackupID: bUp}); err != nil {
		t.Fatal(err)
	}
	if id, err := j.LastUpgradeBackup(); err != nil || id != aUp {
		t.Errorf("with B's ID in A's history: %q (%v), want %s", id, err, aUp)
	}
	// The engine's own history names the unrecorded one: it was this engine's upgrade.
	if err := j.Append(Record{Op: "upgrade", Result: string(OutcomeUpgraded), BackupID: unrecorded}); err != nil {
		t.Fatal(err)
	}
	if id, err := j.LastUpgradeBackup(); err != nil || id != unrecorded {
		t.Errorf("with the unrecorded ID in A's history: %q (%v), want %s", id, err, unrecorded)
	}

	// An engine with only an unrecorded backup has no default target.
	c := newEnginesRig(t)
	c.legacy.completeAs(old, "upgrade")
	if id, err := c.a.m.journals("demo").LastUpgradeBackup(); err == nil {
		t.Errorf("rollback target among unrecorded backups only = %q, want none", id)
	}
	if e, _, err := restore.Target(&c.a.m.Env, "demo", ""); err == nil {
		t.Errorf("restore target among unrecorded backups only = %q, want none", e.ID)
	}

	// An explicit ID of another engine's backup is allowed, and says so.
	e, _, err := restore.Target(&r.a.m.Env, "demo", bManual)
	if err != nil || e.ID != bManual {
		t.Fatalf("restore of B's %s by ID = %q, %v; want it", bManual, e.ID, err)
	}
	if n := stack.OriginNotice(e); !strings.Contains(n, "another engine ENGINE-B (context prod)") {
		t.Errorf("notice for B's backup = %q, want it to name engine B", n)
	}
	if e, _, err := restore.Target(&r.a.m.Env, "demo", unrecorded); err != nil || !strings.Contains(stack.OriginNotice(e), "did not record its engine") {
		t.Errorf("notice for the unrecorded backup = %q (%v)", stack.OriginNotice(e), err)
	}
	if e, _, err := restore.Target(&r.a.m.Env, "demo", aManual); err != nil || stack.OriginNotice(e) != "" {
		t.Errorf("notice for A's own backup = %q (%v), want none", stack.OriginNotice(e), err)
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
