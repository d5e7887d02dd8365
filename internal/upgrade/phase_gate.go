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
		h := t.opts.Health
		if ad := t.plan.Adoption; ad != nil && ad.MaiBot != nil && ad.MaiBot.ReadyLog != "" {
			// MaiBot's preset for a new core that declares no healthcheck; a ready_log the
			// project sets itself wins.
			if _, set := h.ReadyLog[ad.MaiBot.Core]; !set && !hasReadyLogExt(t.target, ad.MaiBot.Core) {
				rl := map[string]string{ad.MaiBot.Core: ad.MaiBot.ReadyLog}
				for k, v := range h.ReadyLog {
					rl[k] = v
				}
				h.ReadyLog = rl
			}
		}
		return t.m.gateServices(ctx, t.target, allServices(t.target), h)
	},
}

// planned is the project the upgrade will run: the merged files' with --compose-file.
func (t *txn) planned() *project.Project {
	if t.adoption != nil {
		return t.adoption.newp
	}
	return t.p
}
