package upgrade

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/maibotgate"
	"github.com/docker-maim/docker-maim/internal/project"
)

// gatePhase waits for every service of the recreated project to prove healthy (journal:
// health; gateServices). The new version may have migrated the data: undone by the failure
// path's restore from the backup. A MaiBot core is gated on its ready banner, with a wait
// that its migration's log extends (internal/maibotgate); the plan says so.
var gatePhase = phase[*txn]{
	Name:    "gate",
	Journal: PhaseHealth,
	Describe: func(t *txn) string {
		s := "wait for " + strings.Join(allServices(t.planned()), ", ") + " to prove healthy; roll back from the backup if not"
		if core, ok := maibotgate.GatedCore(t.planned()); ok {
			s += fmt.Sprintf("; %s (MaiBot) must log its ready banner, read from its new image's catalog for its locale; while it has not, new log output (a database migration) extends the wait beyond --timeout, up to %s", core, maibotgate.MigrationCap(health.From(t.opts.Health)))
			if _, db, _, _ := maibotgate.Versions(t.p); db >= 0 {
				// No image says which schema it brings: the progress names a migration
				// when the bot's log does.
				s += fmt.Sprintf(" (its database is at schema %d now)", db)
			}
		}
		return s
	},
	Run: func(ctx context.Context, t *txn) error {
		services := allServices(t.target)
		h := maibotgate.ReadyRules(ctx, t.m.Engine, t.m.logf, t.target, services, health.From(t.opts.Health), maibotgate.RecordedSchema(t.man))
		return t.m.gateServices(ctx, t.target, services, h)
	},
}

// planned is the project the upgrade will run: the merged files' with --compose-file.
func (t *txn) planned() *project.Project {
	if t.adoption != nil {
		return t.adoption.newp
	}
	return t.p
}
