package upgrade

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/maibotgate"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/docker/go-units"
)

// backupPhase (pass two when backup-hot ran: only what changed since it began) archives every data source (and the config files a merge will rewrite) of
// the stopped project into a new backup, pins the old images under the backup's ID, and
// then records backed-up with the backup's ID: from there on data may change and a
// failure restores from this backup. It runs in backing-up, which the stop recorded.
// Undone by the failure path: before backed-up the partial backup is dropped and what
// ran is started again (resolve).
var backupPhase = phase[*txn]{
	Name:    "backup",
	Journal: PhaseBackingUp,
	Describe: func(t *txn) string {
		n := 0
		for _, s := range t.plan.Sources {
			if s.NotBackedUp == "" {
				n++
			}
		}
		return fmt.Sprintf("back up %d data source(s), about %s, into a new backup; pin the old images to it", n, units.HumanSize(float64(t.plan.BackupBytes)))
	},
	Run: func(ctx context.Context, t *txn) error {
		m, plan, jr := t.m, t.plan, t.Journal
		var man *backup.Manifest
		var err error
		versions, warnings := maibotgate.AppVersions(t.p) // read now: the services are stopped
		for _, w := range warnings {
			m.logf("warning: %s", w)
		}
		if t.hot != nil {
			// Pass two: only what changed since backup-hot began, into the backup it began.
			t.hot.SetAppVersions(versions)
			man, err = m.Snapshots.BackupPlanned(ctx, t.p, t.hot, &plan.running)
		} else {
			opts := t.backupOptions()
			opts.AppVersions = versions
			man, err = m.Snapshots.Backup(ctx, t.p, opts)
		}
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		t.man = man
		t.res.BackupID = man.ID
		jr.BackupID = man.ID
		jr.Phase = PhaseBackedUp
		if jr.Images, err = stack.PinImages(ctx, m.Engine, t.p.Name, man.ID, jr.Images); err != nil {
			return err
		}
		plan.Changes = jr.Images
		if err := t.journals.Save(jr); err != nil {
			return err
		}
		m.logf("backup %s complete", man.ID)
		return nil
	},
}
