// Package restore owns the journaled restore (`docker maim restore`): which backup, its
// check and plan before anything stops (prepare.go), then its phases on the journal's
// runner (phases.go: safety-hot, stop, safety-backup, restore, recreate, start, gate; the
// safety backup in two passes: safety_hot.go; with --from-dump
// fromdump.go: stop, safety-backup, empty, load, start, gate), the one failure
// path that puts the safety backup back (undo.go), and how an interrupted restore is
// resolved (resolve.go, called by internal/rollback).
package restore

import (
	"context"
	"os"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// Recreated is a service the restore recreated, and why (stack.Recreated).
type Recreated = stack.Recreated

// safetyReasons are the reasons of backups made to undo a restore or rollback.
var safetyReasons = map[string]bool{"pre-restore": true, "pre-rollback": true}

// Restore makes the project's data and files equal to a backup, journaled like the
// upgrade, so a kill -9 at any point is reported by every command and resolved by `docker
// maim rollback`. When the backup's compose or env files come back, the services they
// describe otherwise than their containers are recreated from them, on the images the
// backup recorded, so a plain `docker compose up -d` recreates nothing afterwards. The
// caller holds the project lock. Read it top to bottom: prepare (nothing stops), the
// journal (planned), then the phases. With DryRun it ends after prepare, saying what the
// phases would do (dryrun.go).
func Restore(ctx context.Context, env *stack.Env, p *project.Project, opts maim.RestoreOptions) (*maim.RestoreResult, error) {
	t := &rtxn{env: env, p: p, opts: opts, journals: env.Journals(p.Name)}
	if err := t.journals.NonePending(); err != nil {
		return nil, err
	}
	prepare, phases := t.prepare, restorePhases
	if opts.FromDump != "" {
		prepare, phases = t.prepareFromDump, fromDumpPhases
	}
	if err := prepare(ctx); err != nil {
		return nil, err
	}
	if t.notice != "" {
		defer func() { t.res.Warnings = append([]string{t.notice}, t.res.Warnings...) }()
	}
	if opts.DryRun {
		return t.dryRun()
	}
	if err := t.begin(); err != nil {
		return nil, err
	}
	_, err := journal.MustUndo(journal.RunPhases(ctx, t.Runner, phases, t))
	if t.safety != nil {
		t.safety.Abort() // a safety backup begun and never committed (a no-op once it was)
	}
	t.env.Snapshots.DropStaged(context.WithoutCancel(ctx), t.plan) // ended before it wrote: the stages go
	if err == nil {
		return t.res, nil
	}
	if len(t.Ran) == 0 || t.noResult {
		return nil, err
	}
	return t.res, err
}

// rtxn is one restore in progress: what its phases (phases.go) read and write.
type rtxn struct {
	env      *stack.Env
	p        *project.Project
	opts     maim.RestoreOptions
	journals journal.Journals
	res      *maim.RestoreResult
	// notice says the backup is not recorded as this engine's (originNotice).
	notice string
	entry  backup.Entry
	plan   *snapshot.RestorePlan
	// ready waits for the archives' hash check (prepare).
	ready func() error
	// running is what ran: before the journal, then as listed right before the stop.
	running project.Running
	start   time.Time
	*journal.Runner
	// restored is the project as the restored files describe it (phase recreate).
	restored *project.Project
	// noResult: the restore ended with nothing to report but the error (refused before
	// anything was written, or the journal could not be written before the stop).
	noResult bool
	// safety is the safety backup pass one began (safety_hot.go); nil without one.
	safety *snapshot.BackupPlan
	// fd is what --from-dump loads (fromdump.go); nil for a restore of the archives.
	fd *fromDump
}

// restorePhases are the restore's phases, in order. Until the safety backup is complete
// (backed-up) nothing has changed (safety-hot runs before the stop, in planned); from there on a failure puts it back (undo.go).
var restorePhases = []journal.Step[*rtxn]{
	safetyHotPhase, // pass one of the safety backup, everything running (planned)
	stopPhase,      // stop what runs (backing-up)
	safetyPhase,    // the safety backup (backing-up)
	writePhase,     // backed-up, then restoring: the data and the project files
	recreatePhase,  // recreating: the services the restored files describe otherwise
	startPhase,     // start what ran; the journal goes
	gatePhase,      // the health gate
}

// begin writes the journal: planned, nothing stopped yet.
func (t *rtxn) begin() error {
	p, running := t.p, t.running
	t.start = time.Now().UTC()
	jr := &journal.Journal{
		Op: journal.OpRestore, Project: p.Name, PID: os.Getpid(), Started: t.start, Phase: journal.PhasePlanned,
		Running: running.Services, Containers: running.IDs, OneOffs: running.OneOffs,
		Restore:    &journal.RestoreInfo{ID: t.entry.ID, Sources: t.opts.Sources, ToRecordedPaths: t.opts.ToRecordedPaths},
		WorkingDir: p.WorkingDir, ComposeFiles: p.ComposeFiles, EnvFiles: p.EnvFiles, Profiles: p.Profiles,
	}
	t.Runner = &journal.Runner{Journals: t.journals, Journal: jr, Op: journal.OpRestore, Progress: t.env.Progress}
	return t.journals.Save(jr)
}

// finish ends the restore in the history with result ("failed", "refused"), removing the
// journal, and returns err.
func (t *rtxn) finish(result string, err error) error {
	_ = t.journals.Finish(journal.Record{Op: journal.OpRestore, Result: result, Started: t.start, BackupID: t.entry.ID, Error: err.Error()})
	return err
}

// refuse ends a restore refused before anything was written.
func (t *rtxn) refuse(err error) error {
	t.noResult = true
	return t.finish("refused", err)
}
