package rollback

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/snapshot"
)

// rollbackRestore writes the backup's data, config and compose files back where the
// backup recorded them (the services are stopped: phase stop).
var rollbackRestore = journal.Step[*rtxn]{
	Name:     "restore",
	Journal:  journal.PhaseRollingBack,
	Describe: func(t *rtxn) string { return "restore data and files from backup " + t.man.ID },
	Run: func(ctx context.Context, t *rtxn) error {
		opts := stagedRestore(t)
		opts.Stopped, opts.Prestaged = &t.running, t.staged
		_, err := t.env.Snapshots.Restore(ctx, t.p, opts)
		return err
	},
}

// stagedRestore are the options of the rollback's restore (also planned before the stop,
// for the stage: phase safety-hot).
func stagedRestore(t *rtxn) snapshot.RestoreOptions {
	return snapshot.RestoreOptions{ID: t.man.ID, NoSafetyBackup: true, ToRecordedPaths: true, Checked: t.checked}
}
