package upgrade

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker/go-units"
)

// backupHotPhase is pass one of the two-pass backup: while everything still runs it begins
// the upgrade's backup and archives every directory source as it is, recording what it read
// (snapshot.HotPass); the backup phase, once stopped, then archives only what changed since,
// so the downtime does not grow with the data. It changes nothing of the project and
// records no journal phase of its own (planned: nothing stopped), so a crash or failure in
// it is resolved as before the stop: what ran still runs, the begun backup (no manifest) is
// dropped (on error here and by the upgrade's failure path; an interrupted one is an
// incomplete backup, never restored). Skipped with --one-pass and when nothing runs.
var backupHotPhase = phase[*txn]{
	Name:    "backup-hot",
	Journal: PhasePlanned,
	Skip: func(t *txn) string {
		switch {
		case t.opts.OnePass:
			return "--one-pass: everything is archived with the services stopped"
		case t.plan.running.Empty():
			return "nothing runs: one pass, nothing to stop"
		}
		return ""
	},
	Describe: func(t *txn) string {
		s := fmt.Sprintf("while the services run, copy every data source (about %s) and record what was read; after the stop only the changes since are archived", units.HumanSize(float64(t.plan.BackupBytes)))
		if cold := t.plan.coldServices(); len(cold) > 0 {
			s += "; not the data of " + strings.Join(cold, ", ") + " (stop-during-backup: archived only stopped)"
		}
		return s
	},
	Run: func(ctx context.Context, t *txn) error {
		pl := t.hot // begun by the logical dumps (preDumps), planned by preMigrate, or planned now
		if pl == nil {
			var err error
			if pl, err = t.m.Snapshots.PlanBackup(ctx, t.p, t.backupOptions()); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
		}
		t.m.logf("copying the data while the services run (pass one)")
		if err := t.m.Snapshots.HotPass(ctx, t.p, pl); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		t.hot = pl
		return nil
	},
}

// backupOptions are the options of the upgrade's backup (both passes).
func (t *txn) backupOptions() snapshot.BackupOptions {
	plan := t.plan
	info := &backup.UpgradeInfo{From: map[string]string{}, To: map[string]string{}}
	for _, c := range plan.Changes {
		info.From[c.Service], info.To[c.Service] = c.From(), c.To()
	}
	if plan.Adoption != nil {
		info.Adopted = plan.adoption.adoptedInfo()
	}
	return snapshot.BackupOptions{
		Reason: "upgrade", Stopped: &plan.running, Upgrade: info,
		Compression: t.opts.Compression, Level: t.opts.Level, ExtraFiles: plan.mergeFiles(),
		IncludeHostPaths: t.opts.IncludeHostPaths, Sizes: plan.sizeMap(),
		ColdServices: plan.coldServices(),
		Policies:     t.opts.SourcePolicies, SkipNever: true, Full: t.opts.Full, MaxDeltas: t.opts.MaxDeltas,
	}
}

// coldServices are the services whose data gets no hot pass (stop-during-backup).
func (plan *Plan) coldServices() []string {
	if plan.hooks == nil {
		return nil
	}
	return plan.hooks.StopDuringBackup
}
