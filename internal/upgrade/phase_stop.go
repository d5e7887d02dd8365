package upgrade

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// stopPhase stops what runs, in reverse dependency order; it records backing-up first
// (nothing changed yet). Undone by the failure path: before the backup completed,
// resolve starts exactly what ran again.
var stopPhase = phase[*txn]{
	name:    "stop",
	journal: PhaseBackingUp,
	describe: func(t *txn) string {
		if len(t.plan.running.Services) == 0 {
			return "nothing runs: nothing to stop"
		}
		return "stop " + strings.Join(t.plan.running.Services, ", ") + " (reverse dependency order)"
	},
	run: func(ctx context.Context, t *txn) error {
		t.stopAt = time.Now()
		t.m.logf("stopping %s", strings.Join(t.plan.running.Services, ", "))
		if err := t.p.Stop(ctx, t.m.Engine, t.plan.running); err != nil {
			return fmt.Errorf("stopping: %w", err)
		}
		return nil
	},
}
