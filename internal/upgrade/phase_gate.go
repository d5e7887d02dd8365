package upgrade

import (
	"context"
	"strings"

	"github.com/docker-maim/docker-maim/internal/project"
)

// gatePhase waits for every service of the recreated project to prove healthy (journal:
// health; gateServices). The new version may have migrated the data: undone by the failure
// path's restore from the backup.
var gatePhase = phase[*txn]{
	name:    "gate",
	journal: PhaseHealth,
	describe: func(t *txn) string {
		return "wait for " + strings.Join(allServices(t.planned()), ", ") + " to prove healthy; roll back from the backup if not"
	},
	run: func(ctx context.Context, t *txn) error {
		return t.m.gateServices(ctx, t.target, allServices(t.target), t.opts.Health)
	},
}

// planned is the project the upgrade will run: the merged files' with --compose-file.
func (t *txn) planned() *project.Project {
	if t.adoption != nil {
		return t.adoption.newp
	}
	return t.p
}
