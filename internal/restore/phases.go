package restore

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// stopPhase stops what runs (journal: backing-up; nothing changed yet). What runs is
// listed again right before the stop (the list prepare made is from before the hash
// check): a container of the project started meanwhile (a service, a `compose run`
// one-off) is stopped with the rest, journaled as what ran, and started again. A failure
// starts what ran again and ends the restore as failed.
var stopPhase = journal.Step[*rtxn]{
	Name:     "stop",
	Journal:  journal.PhaseBackingUp,
	Describe: func(*rtxn) string { return "stop what runs" },
	Run: func(ctx context.Context, t *rtxn) error {
		m, p := t.env, t.p
		// Nothing ran when the check was left to the first write: now something stops first.
		check := func(now project.Running) error {
			if len(t.running.Services) == 0 && !now.Empty() {
				return t.ready()
			}
			return nil
		}
		now, _, err := m.StopWhatRuns(ctx, p, stack.Stop{Journals: t.journals, Journal: t.Journal, Check: check})
		var se *stack.StopError
		if !errors.As(err, &se) {
			t.running = now
			return err
		}
		switch se.Step {
		case stack.StepList:
			return t.finish("failed", err)
		case stack.StepCheck:
			return t.refuse(se.Err)
		case stack.StepJournal:
			t.noResult = true
			return se.Err
		}
		t.running = now
		return t.finish("failed", errors.Join(err, m.StartAgain(ctx, p, t.running)))
	},
}

// safetyPhase keeps everything about to be overwritten in a safety backup (reason
// pre-restore), unless --no-safety-backup: after safety-hot only the changes since its
// pass (safety_hot.go), else everything, stopped. A failure starts what ran again: nothing
// was restored.
var safetyPhase = journal.Step[*rtxn]{
	Name:    "safety-backup",
	Journal: journal.PhaseBackingUp,
	Skip: func(t *rtxn) string {
		if t.opts.NoSafetyBackup {
			return "no safety backup"
		}
		return ""
	},
	Describe: func(t *rtxn) string {
		if HotSkip(t.opts.NoSafetyBackup, t.running, t.p) == "" && t.fd == nil {
			return "back up what changed since safety-hot (pass two), stopped"
		}
		return "back up what the restore overwrites, stopped"
	},
	Run: func(ctx context.Context, t *rtxn) error {
		id, err := t.takeSafety(ctx)
		if err != nil {
			return t.finish("failed", errors.Join(fmt.Errorf("safety backup failed, nothing was restored: %w", err), t.env.StartAgain(ctx, t.p, t.running)))
		}
		t.res.SafetyID, t.Journal.BackupID = id, id
		return nil
	},
}

// writePhase records backed-up (the safety backup, if any, is complete), then restoring,
// and writes the data and the project files. A failure puts the safety backup back
// (restoreFailed); a check that failed while the first source got ready, with nothing run
// and nothing written, is a refusal.
var writePhase = journal.Step[*rtxn]{
	Name:     "restore",
	Describe: func(*rtxn) string { return "write the backup's data and project files" },
	Run: func(ctx context.Context, t *rtxn) error {
		if err := t.Record(journal.PhaseBackedUp); err != nil {
			return err
		}
		if err := t.Record(journal.PhaseRestoring); err != nil {
			return err
		}
		var err error
		// The restore uses (or its full restore removes) every stage prestage made.
		defer t.plan.StagedUsed()
		t.res.Restored, err = t.env.Snapshots.RestorePlanned(ctx, t.plan)
		if err != nil && errors.Is(err, snapshot.ErrVerify) && len(t.res.Restored) == 0 && len(t.running.Services) == 0 && t.Journal.BackupID == "" {
			// The check failed while the first source got ready: nothing ran, nothing was written.
			return t.refuse(err)
		}
		if err != nil {
			return restoreFailed(ctx, t.env, t.p, t.Journal, t.running, err)
		}
		return nil
	},
}

// recreatePhase makes the restored files name what runs: the services they describe
// otherwise than their containers are recreated from them (journaled: recreating;
// recreateDescribed). A failure puts the safety backup back.
var recreatePhase = journal.Step[*rtxn]{
	Name:     "recreate",
	Describe: func(*rtxn) string { return "recreate the services the restored files describe otherwise" },
	Run: func(ctx context.Context, t *rtxn) error {
		restored, err := recreateDescribed(ctx, t.env, t.p, t.entry.Manifest, t.plan, t.Journal, t.res)
		if err != nil {
			return restoreFailed(ctx, t.env, t.p, t.Journal, t.running, err)
		}
		t.restored = restored
		return nil
	},
}

// startPhase starts what ran and leaves stopped what was stopped; the restore is done:
// the history records it and the journal goes.
var startPhase = journal.Step[*rtxn]{
	Name:     "start",
	Describe: func(*rtxn) string { return "start what ran; record the restore in the history" },
	Run: func(ctx context.Context, t *rtxn) error {
		if err := t.env.StartWhatRan(ctx, t.restored, t.running, recreatedOf(t.res)); err != nil {
			return err
		}
		t.res.Started = t.running.Services
		return t.journals.Finish(journal.Record{Op: journal.OpRestore, Result: "restored", Started: t.start, BackupID: t.entry.ID})
	},
}

// gatePhase waits for what ran to prove healthy. It is final: the restore is done.
var gatePhase = journal.Step[*rtxn]{
	Name:     "gate",
	Final:    true,
	Describe: func(*rtxn) string { return "wait for what ran to prove healthy" },
	Run: func(ctx context.Context, t *rtxn) error {
		if err := t.env.GateServices(ctx, t.restored, t.running.Services, health.From(t.opts.Health)); err != nil {
			return fmt.Errorf("restored from backup %s, but the services did not pass the health gate: %w", t.entry.ID, err)
		}
		return nil
	},
}
