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
		_, err := t.env.Snapshots.Restore(ctx, t.p, snapshot.RestoreOptions{ID: t.man.ID, NoSafetyBackup: true, Stopped: &t.running, ToRecordedPaths: true, Checked: t.checked})
		return err
	},
}
