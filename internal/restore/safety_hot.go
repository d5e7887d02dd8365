package restore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/docker-maim/docker-maim/internal/svchooks"
)

// The safety backup in two passes, as the backup verb and the upgrade take theirs: pass
// one (safety-hot) while the services still run copies what the restore will overwrite
// and records what it read; after the stop the safety-backup phase archives only what
// changed since (snapshot.BackupPlanned), so the downtime does not grow with the data. The
// result equals a safety backup taken stopped under the conditions of two-pass backups
// (a file system that shows every change by the files' times, DESIGN.md "Where each
// shortcut is exact"); a source where they do not hold is archived whole after the stop
// (snapshot says why per source: one_pass), and so is every source a stop-during-backup
// service mounts (ColdServices). Nothing running: one pass after the stop.

// ColdServices are p's services whose data is archived only while they are stopped
// (stop-during-backup labels or x-maim keys: svchooks). why is non-empty when the
// project's hooks cannot be read: then no source gets a hot pass.
func ColdServices(p *project.Project) (cold []string, why string) {
	h, err := svchooks.FromProject(p.Project)
	if err != nil {
		return nil, "the services' backup labels cannot be read (" + err.Error() + "): one pass, stopped"
	}
	return h.StopDuringBackup, ""
}

// HotSkip says why a safety backup gets no hot pass ("" : it gets one): none asked for,
// nothing running (nothing will be stopped), or the hooks unreadable.
func HotSkip(noSafety bool, running project.Running, p *project.Project) string {
	switch {
	case noSafety:
		return "no safety backup"
	case running.Empty():
		return "nothing runs: the safety backup is taken in one pass after the stop"
	}
	_, why := ColdServices(p)
	return why
}

// HotDescribe is what a safety backup's hot pass does, for the dry-run's list.
func HotDescribe(what string, p *project.Project) string {
	s := "while the services run, copy " + what + " and record what was read; after the stop only the changes since are archived"
	if cold, _ := ColdServices(p); len(cold) > 0 {
		s += "; not the data of " + strings.Join(cold, ", ") + " (stop-during-backup: archived only stopped)"
	}
	return s
}

// HotFailpoint is the failpoint op+":safety-hot", passed after the first source of pass one
// (snapshot.BackupOptions.HotDone): the crash tests kill or hold the process there, in the
// middle of the hot pass, with nothing stopped and nothing changed.
func HotFailpoint(op string) func(string) {
	var once sync.Once
	return func(string) { once.Do(func() { journal.Failpoint(op + ":safety-hot") }) }
}

// safetyHotPhase is pass one of the restore's safety backup, before the stop (journal:
// planned, as the begin wrote it: nothing stopped, nothing changed). A failure drops the
// begun backup and ends the restore as failed, everything still running; a crash leaves an
// incomplete backup (no manifest, never restored) that the resolution removes
// (restore.Resolve: nothing changed yet).
var safetyHotPhase = journal.Step[*rtxn]{
	Name:    "safety-hot",
	Journal: journal.PhasePlanned,
	Skip:    func(t *rtxn) string { return HotSkip(t.opts.NoSafetyBackup, t.running, t.p) },
	Describe: func(t *rtxn) string {
		return HotDescribe("what the restore overwrites", t.p) + "; then stage the files the restore rewrites"
	},
	Run: func(ctx context.Context, t *rtxn) error {
		m := t.env
		cold, _ := ColdServices(t.p)
		pl, err := m.Snapshots.PlanSafety(ctx, t.p, t.plan, "", cold)
		if err == nil {
			m.Logf("copying what the restore overwrites while the services run (safety backup, pass one)")
			pl.OnHot(HotFailpoint(journal.OpRestore))
			err = m.Snapshots.HotPass(ctx, t.p, pl)
		}
		if err != nil {
			if pl != nil {
				pl.Abort()
			}
			t.noResult = true
			return t.finish("failed", fmt.Errorf("safety backup failed (pass one, while the services ran), nothing was stopped or changed: %w", err))
		}
		t.safety = pl
		prestage(ctx, m, t.plan, pl, journal.OpRestore)
		return nil
	},
}

// prestage is pass one of the two-pass differential restore (snapshot.Prestage), right after
// the safety backup's pass one and before the stop: the backup's version of each file the
// restore will rewrite is staged in its target, so the restore renames instead of writing
// while the services are down. It never fails the operation. The failpoint op+":prestaged"
// follows it (the crash tests kill or hold the process there: staged, nothing stopped).
func prestage(ctx context.Context, m *stack.Env, plan *snapshot.RestorePlan, safety *snapshot.BackupPlan, op string) {
	if res := m.Snapshots.Prestage(ctx, plan, safety); res.Files > 0 {
		m.Logf("staged %d file(s) the restore rewrites while the services run (%d source(s))", res.Files, res.Sources)
	}
	journal.Failpoint(op + ":prestaged")
}

// Prestage is prestage for the rollback (internal/rollback).
func Prestage(ctx context.Context, m *stack.Env, plan *snapshot.RestorePlan, safety *snapshot.BackupPlan, op string) {
	prestage(ctx, m, plan, safety, op)
}

// takeSafety is the safety backup after the stop: pass two of the hot pass's backup (only
// the changes since), or the whole safety backup in one pass when there was none.
func (t *rtxn) takeSafety(ctx context.Context) (string, error) {
	m := t.env
	if t.safety != nil {
		man, err := m.Snapshots.BackupPlanned(ctx, t.p, t.safety, &t.running)
		if err != nil {
			return "", err
		}
		return man.ID, nil
	}
	man, err := m.Snapshots.SafetyBackup(ctx, t.p, t.plan, &t.running, "")
	if err != nil {
		return "", err
	}
	return man.ID, nil
}
