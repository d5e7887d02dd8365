package rollback

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/restore"
	"github.com/docker-maim/docker-maim/internal/snapshot"
)

// rollbackSafetyHot is pass one of the rollback's safety backup (restore/safety_hot.go
// says the rule): while what runs still runs, it copies the project's data as it is and
// records what it read; after the stop, rollbackSafety archives only the changes since.
// When the backup was checked before (not a resolution), it then plans the restore and
// stages the files it will rewrite (restore.Prestage), which the restore phase renames.
// Nothing running: nothing to do (one pass after the stop). It stops nothing and changes
// nothing of the project; a failure drops the begun backup and ends the rollback with the
// journal kept, everything still running, and a crash leaves an incomplete backup that the
// resolution removes (Resolve).
var rollbackSafetyHot = journal.Step[*rtxn]{
	Name:    "safety-hot",
	Journal: journal.PhaseRollingBack,
	Skip: func(t *rtxn) string {
		if t.idle {
			return restore.HotSkip(t.opts.NoSafetyBackup, t.running, t.p)
		}
		if t.opts.NoSafetyBackup {
			return "no safety backup"
		}
		_, why := restore.ColdServices(t.p)
		return why
	},
	Describe: func(t *rtxn) string {
		return restore.HotDescribe("the project's data", t.p) + "; then stage the files the restore rewrites"
	},
	Run: func(ctx context.Context, t *rtxn) error {
		running, err := t.p.RunningContainers(ctx, t.env.Engine)
		if err != nil {
			return err
		}
		if running.Empty() {
			t.env.Logf("nothing runs: the safety backup is taken in one pass after the stop")
			return nil
		}
		cold, _ := restore.ColdServices(t.p)
		pl, err := t.env.Snapshots.PlanBackup(ctx, t.p, snapshot.BackupOptions{Reason: "pre-rollback", ColdServices: cold, HotDone: restore.HotFailpoint(journal.OpRollback)})
		if err == nil {
			t.env.Logf("copying the project's data while the services run (safety backup, pass one)")
			err = t.env.Snapshots.HotPass(ctx, t.p, pl)
		}
		if err != nil {
			if pl != nil {
				pl.Abort()
			}
			return fmt.Errorf("safety backup failed (pass one, while the services ran), nothing was stopped or rolled back (add --no-safety-backup to skip it): %w", err)
		}
		t.safety = pl
		if t.checked {
			// Pass one of the two-pass differential restore: the restore phase plans again
			// after the stop and takes over the stage of each source planned alike.
			e, err := t.env.Store.Get(t.p.Name, t.man.ID)
			if err == nil {
				t.staged, err = t.env.Snapshots.PlanRestore(ctx, t.p, e, stagedRestore(t))
			}
			if err == nil {
				restore.Prestage(ctx, t.env, t.staged, pl, journal.OpRollback)
			}
		}
		return nil
	},
}
