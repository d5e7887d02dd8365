package upgrade

import (
	"context"
	"fmt"
	"strings"
)

// --reset-data empties the named sources in two phases, once the backup is complete; so
// are the data sources of the databases --migrate-db moves (resetNames, migrate.go).

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
		return "empty " + strings.Join(t.resetNames(), ", ") + " (--reset-data, --migrate-db: the new version starts that data afresh)"
	},
	Run: func(ctx context.Context, t *txn) error {
		if err := t.m.resetData(ctx, t.man, t.resetNames()); err != nil {
			return fmt.Errorf("reset-data: %w", err)
		}
		return nil
	},
}
