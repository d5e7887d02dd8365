package upgrade

import (
	"context"
	"fmt"
	"strings"
)

// mergePhase merges the config files into the new images' templates (journal: merging).
// The files as they were are in the backup: undone by the failure path's restore from it.
var mergePhase = phase[*txn]{
	Name:    "merge",
	Journal: PhaseMerging,
	Skip: func(t *txn) string {
		if len(t.plan.merges) == 0 {
			return "no config file to merge"
		}
		return ""
	},
	Describe: func(t *txn) string {
		var files []string
		for _, mi := range t.plan.Merges {
			files = append(files, mi.File)
		}
		return "merge " + strings.Join(files, ", ") + " into the new templates"
	},
	Run: func(_ context.Context, t *txn) error {
		if err := t.m.applyMerges(t.man.ID, t.plan); err != nil {
			return fmt.Errorf("config merge: %w", err)
		}
		return nil
	},
}
