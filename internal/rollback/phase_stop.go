package rollback

import (
	"context"

	"github.com/docker-maim/docker-maim/internal/journal"
)

// rollbackStop stops what runs now (the failed version, or what the user started since).
var rollbackStop = journal.Step[*rtxn]{
	Name:     "stop",
	Journal:  journal.PhaseRollingBack,
	Describe: func(*rtxn) string { return "stop what runs" },
	Run: func(ctx context.Context, t *rtxn) error {
		running, err := t.p.RunningContainers(ctx, t.env.Engine)
		if err != nil {
			return err
		}
		t.running = running
		t.env.Logf("rolling back to backup %s", t.man.ID)
		return t.p.Stop(ctx, t.env.Engine, running)
	},
}
