package upgrade

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// stopPhase stops what runs, in reverse dependency order; it records backing-up first
// (nothing changed yet). What runs is listed again right before the stop (the plan's list
// is from before pass one): every container of the project that runs then, its services'
// (also one not running when the upgrade was planned) and its one-off `docker compose run`
// containers, is recorded in the journal as what ran, then stopped; the backup's manifest
// records the same set. A container started after this stop fails the backup
// (snapshot.ErrNotCold). Undone by the failure path: before the backup completed, resolve
// starts exactly what the journal records again.
var stopPhase = phase[*txn]{
	Name:    "stop",
	Journal: PhaseBackingUp,
	Describe: func(t *txn) string {
		if len(t.plan.running.Services) == 0 {
			return "nothing runs: nothing to stop"
		}
		return "stop " + strings.Join(t.plan.running.Services, ", ") + " and whatever else of the project runs by then (reverse dependency order)"
	},
	Run: func(ctx context.Context, t *txn) error {
		now, err := t.p.RunningContainers(ctx, t.m.Engine)
		if err != nil {
			return fmt.Errorf("listing what runs: %w", err)
		}
		// Journaled before anything stops: a crash from here starts exactly this set again.
		t.plan.running = now
		t.Journal.SetRan(now)
		if err := t.journals.Save(t.Journal); err != nil {
			return err
		}
		t.stopAt = time.Now()
		if now.Empty() {
			return nil
		}
		t.m.logf("stopping %s", now.Describe())
		if err := t.p.Stop(ctx, t.m.Engine, now); err != nil {
			return fmt.Errorf("stopping: %w", err)
		}
		return nil
	},
}
