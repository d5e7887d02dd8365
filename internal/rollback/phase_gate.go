package rollback

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/journal"
)

// rollbackGate waits for what ran at the backup (every service when the backup does not
// say) to prove healthy; the application's ready rules
// (Env.Ready: a MaiBot core on its ready banner) with the data the backup recorded.
var rollbackGate = journal.Step[*rtxn]{
	Name:     "gate",
	Journal:  journal.PhaseRollingBack,
	Describe: func(*rtxn) string { return "wait for what ran to prove healthy" },
	Run: func(ctx context.Context, t *rtxn) error {
		running := t.man.Running
		if len(running) == 0 {
			running = t.target.ServiceNames()
		}
		h := health.From(t.opts.Health)
		if t.env.Ready != nil {
			h = t.env.Ready(ctx, t.target, running, h, t.man)
		}
		return t.env.GateServices(ctx, t.target, running, h)
	},
}
