package upgrade

import (
	"context"
	"strings"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// stopPhase stops what runs (stack.StopWhatRuns), in reverse dependency order; it records
// backing-up first (nothing changed yet). What runs is listed again right before the stop (the plan's list
// is from before pass one): every container of the project that runs then, its services'
// (also one not running when the upgrade was planned) and its one-off `docker compose run`
// containers, is recorded in the journal as what ran, then stopped; the backup's manifest
// records the same set. A container started after this stop fails the backup
// (snapshot.ErrNotCold). With --migrate-db the databases migrated keep running (recorded
// as what ran all the same): phase dump-db dumps them with everything else stopped, then
// stops them. Undone by the failure path: before the backup completed, resolve starts
// exactly what the journal records again.
var stopPhase = phase[*txn]{
	Name:    "stop",
	Journal: PhaseBackingUp,
	Describe: func(t *txn) string {
		if len(t.plan.running.Services) == 0 {
			return "nothing runs: nothing to stop"
		}
		s := "stop " + strings.Join(t.plan.running.Services, ", ") + " and whatever else of the project runs by then (reverse dependency order)"
		if keep := dbKeep(t); len(keep) > 0 {
			s += ", but not " + strings.Join(keep, ", ") + " yet (dump-db dumps it, then stops it)"
		}
		return s
	},
	Run: func(ctx context.Context, t *txn) error {
		// Journaled before anything stops: a crash from here starts exactly this set again.
		plan := func(now project.Running) error { t.plan.running = now; return nil }
		_, at, err := t.m.StopWhatRuns(ctx, t.p, stack.Stop{Journals: t.journals, Journal: t.Journal, Check: plan, Keep: dbKeep(t)})
		if !at.IsZero() {
			t.stopAt = at // the downtime starts here
		}
		return err
	},
}
