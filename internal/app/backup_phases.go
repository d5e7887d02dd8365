package app

import (
	"context"
	"errors"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/docker-maim/docker-maim/internal/svchooks"
)

// The backup verb runs on the journal's phase runner like the upgrade and the restore, and
// stops and starts with the same operation (stack.Env.StopWhatRuns, StartAgain). It keeps
// no journal: none of its phases names a journal phase, so the runner writes nothing (a
// crash leaves at most an unfinished backup, which the store tells from a complete one).
//
// What runs is listed again right before the stop, after pass one: every container of the
// project that runs then (its services' and its one-off `docker compose run` containers,
// also those started during pass one) is stopped, recorded in the manifest, and exactly
// that set is started again, on every path (a start failure is joined into the error).
// Once everything is archived, snapshot checks that nothing of the project runs (a
// container started after the stop): if something does, the backup is not cold, it is
// dropped and the command fails (snapshot.ErrNotCold).

// btxn is one run of the backup verb: what its phases share.
type btxn struct {
	env     *stack.Env
	p       *project.Project
	opts    snapshot.BackupOptions
	twoPass bool

	plan *snapshot.BackupPlan
	// hot: pass one ran (its archive is dropped unless the archive phase takes it over).
	hot bool
	// idle: pass one found nothing running, so nothing is stopped (and not listed again).
	idle bool
	// running is what ran and was stopped (empty: nothing was); stopped is when the stop began.
	running project.Running
	stopped time.Time
	// started: running was started again by the start phase.
	started bool
	m       *backup.Manifest
	// hooks are the project's service commands and stop-during-backup services
	// (backup_hooks.go).
	hooks *svchooks.Hooks
	// dumpFlag are the services `backup --dump` names; dumps what is dumped, with where it
	// was asked (backup_dump.go).
	dumpFlag []string
	dumps    []maim.DumpRequest
}

// backupPhases are the backup verb's phases, in order.
var backupPhases = []journal.Step[*btxn]{bplanPhase, bprePhase, bdumpPhase, bhotPhase, bstopPhase, barchivePhase, bstartPhase, bpostPhase}

// bplanPhase finds, guards and measures what the backup archives, before anything stops.
var bplanPhase = journal.Step[*btxn]{
	Name:     "plan",
	Describe: func(*btxn) string { return "find and measure what the backup archives" },
	Run: func(ctx context.Context, t *btxn) (err error) {
		if err := t.readHooks(); err != nil {
			return err
		}
		t.plan, err = t.env.Snapshots.PlanBackup(ctx, t.p, t.opts)
		return err
	},
}

// bhotPhase is pass one of a two-pass backup: it archives while the project still runs,
// so that only the changes since are archived stopped. Nothing running: nothing to do,
// and nothing will be stopped.
var bhotPhase = journal.Step[*btxn]{
	Name: "backup-hot", // the upgrade's name for the same pass (progress lines show it)
	Skip: func(t *btxn) string {
		switch {
		case t.opts.NoStop:
			return "nothing is stopped (--no-stop)"
		case !t.twoPass:
			return "one pass"
		}
		return ""
	},
	Describe: func(*btxn) string { return "archive while the project runs" },
	Run: func(ctx context.Context, t *btxn) error {
		r, err := t.p.RunningContainers(ctx, t.env.Engine)
		if err != nil {
			return err
		}
		if r.Empty() {
			t.running, t.idle = r, true
			return nil
		}
		if err := t.env.Snapshots.HotPass(ctx, t.p, t.plan); err != nil {
			return err
		}
		t.hot = true
		journal.Failpoint("backup:stopping")
		return nil
	},
}

// bstopPhase stops what runs now (not what ran when pass one began). A failed stop still
// starts what ran again (the start after a failure: runBackup).
var bstopPhase = journal.Step[*btxn]{
	Name: "stop",
	Skip: func(t *btxn) string {
		switch {
		case t.opts.NoStop:
			return "nothing is stopped (--no-stop)"
		case t.idle:
			return "nothing runs"
		}
		return ""
	},
	Describe: func(*btxn) string { return "stop what runs" },
	Run: func(ctx context.Context, t *btxn) error {
		now, at, err := t.env.StopWhatRuns(ctx, t.p, stack.Stop{})
		var se *stack.StopError
		if errors.As(err, &se) {
			if se.Step == stack.StepStop {
				t.running, t.stopped = now, at
			}
			// The backup verb reports the cause as the engine gave it.
			return se.Err
		}
		t.running, t.stopped = now, at
		if !now.Empty() {
			journal.Failpoint("backup:stopped")
		}
		return err
	},
}

// barchivePhase archives (with --no-stop: everything, hot; else what pass one left, or
// everything) and writes the manifest, recording what was stopped.
var barchivePhase = journal.Step[*btxn]{
	Name:     "backup", // the upgrade's name for the same step (progress lines show it)
	Describe: func(*btxn) string { return "archive, check nothing runs, write the manifest" },
	Run: func(ctx context.Context, t *btxn) (err error) {
		var stopped *project.Running
		if !t.opts.NoStop {
			stopped = &t.running
		}
		t.m, err = t.env.Snapshots.BackupPlanned(ctx, t.p, t.plan, stopped)
		return err
	},
}

// bstartPhase starts what was stopped again.
var bstartPhase = journal.Step[*btxn]{
	Name:     "start",
	Final:    true,
	Describe: func(*btxn) string { return "start what was stopped" },
	Run: func(ctx context.Context, t *btxn) error {
		t.started = true
		return t.env.StartAgain(ctx, t.p, t.running)
	},
}

// runBackup runs the backup phases. On every path what was stopped is started again, and
// downtime, when set, receives how long it was stopped; a failure after pass one drops
// pass one's archive.
func runBackup(ctx context.Context, t *btxn, downtime *time.Duration) (*backup.Manifest, error) {
	_, err := journal.MustUndo(journal.RunPhases(ctx, &journal.Runner{Op: journal.OpBackup, Progress: t.env.Progress}, backupPhases, t))
	if !t.started && !t.running.Empty() {
		err = errors.Join(err, t.env.StartAgain(ctx, t.p, t.running))
	}
	if downtime != nil && !t.running.Empty() {
		*downtime = time.Since(t.stopped)
	}
	if err != nil {
		if t.plan != nil {
			t.plan.Abort() // pass one's or the dumps' begun backup (a no-op without one)
		}
		return nil, err
	}
	return t.m, nil
}
