package rollback

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/snapshot"
)

// rollbackSafety backs up the state the rollback replaces (reason pre-rollback), unless
// --no-safety-backup (an upgrade's own automatic rollback never takes one): after
// safety-hot only the changes since its pass, else everything, stopped.
var rollbackSafety = journal.Step[*rtxn]{
	Name:    "safety-backup",
	Journal: journal.PhaseRollingBack,
	Skip: func(t *rtxn) string {
		if t.opts.NoSafetyBackup {
			return "no safety backup"
		}
		return ""
	},
	Describe: func(t *rtxn) string {
		if rollbackSafetyHot.Skip(t) == "" {
			return "back up what changed since safety-hot (pass two), stopped"
		}
		return "back up the state the rollback replaces, stopped"
	},
	Run: func(ctx context.Context, t *rtxn) error {
		var safety *backup.Manifest
		var err error
		if t.safety != nil {
			// Pass two: only what changed since safety-hot began, into the backup it began.
			safety, err = t.env.Snapshots.BackupPlanned(ctx, t.p, t.safety, &t.running)
		} else {
			safety, err = t.env.Snapshots.Backup(ctx, t.p, snapshot.BackupOptions{Reason: "pre-rollback", Stopped: &t.running})
		}
		if err != nil {
			return fmt.Errorf("safety backup failed, nothing was rolled back (add --no-safety-backup to skip it): %w", err)
		}
		t.res.SafetyID = safety.ID
		t.env.Logf("the state before this rollback is in backup %s", safety.ID)
		// The tests hold here: stopped, the safety backup complete, nothing restored yet.
		journal.Failpoint(journal.OpRollback + ":safety-backed-up")
		return nil
	},
}
