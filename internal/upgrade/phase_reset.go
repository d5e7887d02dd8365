package upgrade

import (
	"context"
	"fmt"
	"slices"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
)

// --reset-data empties the named sources in two phases, once the backup is complete; the
// data sources of the databases --migrate-db moves are verified too, then get their new
// cluster swapped in (resetNames, migrate.go; swapSides, migrate_side.go).

// noResetData skips the --reset-data phases of an upgrade without it.
func noResetData(t *txn) string {
	if len(t.resetNames()) == 0 {
		return "no --reset-data"
	}
	return ""
}

// verifyPhase reads back and verifies the archives of the sources to empty. It changes
// nothing (journal: verifying): on failure the failure path starts what ran, as before
// the backup.
var verifyPhase = phase[*txn]{
	Name:    "verify",
	Journal: PhaseVerifying,
	Skip:    noResetData,
	Describe: func(t *txn) string {
		return "read back and verify the backup's archives of " + strings.Join(t.resetNames(), ", ") + " (nothing is emptied unless they verify)"
	},
	Run: func(_ context.Context, t *txn) error {
		if err := t.m.verifyReset(t.man, t.resetNames()); err != nil {
			return fmt.Errorf("reset-data: %w; nothing was emptied", err)
		}
		return nil
	},
}

// resetPhase empties the sources (journal: resetting). Undone by the failure path's
// restore from the backup.
var resetPhase = phase[*txn]{
	Name:    "reset",
	Journal: PhaseResetting,
	Skip:    noResetData,
	Describe: func(t *txn) string {
		var parts []string
		if names := t.emptied(); len(names) > 0 {
			parts = append(parts, "empty "+strings.Join(names, ", ")+" (--reset-data: the new version starts that data afresh)")
		}
		for _, db := range t.plan.migrations() {
			parts = append(parts, fmt.Sprintf("%s: rename the side directory's entries of %s into place, everything else of it removed (--migrate-db: the new cluster, no copy)", db.Source, db.Service))
		}
		return strings.Join(parts, "; ")
	},
	Run: func(ctx context.Context, t *txn) error {
		if err := t.m.resetData(ctx, t.man, t.emptied()); err != nil {
			return fmt.Errorf("reset-data: %w", err)
		}
		return t.swapSides(ctx)
	},
}

// emptied are the sources phase reset empties: --reset-data's but a migrated database's
// (its new cluster is swapped in).
func (t *txn) emptied() []string {
	return slices.DeleteFunc(slices.Clone(t.opts.ResetData), func(n string) bool {
		return slices.ContainsFunc(t.plan.migrations(), func(db maim.Database) bool { return db.Source == n })
	})
}
