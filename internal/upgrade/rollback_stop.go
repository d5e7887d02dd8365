package upgrade

import "context"

// rollbackStop stops what runs now (the failed version, or what the user started since).
var rollbackStop = phase[*rtxn]{
	Name:     "stop",
	Journal:  PhaseRollingBack,
	Describe: func(*rtxn) string { return "stop what runs" },
	Run: func(ctx context.Context, t *rtxn) error {
		running, err := t.p.RunningContainers(ctx, t.m.Engine)
		if err != nil {
			return err
		}
		t.running = running
		t.m.logf("rolling back to backup %s", t.man.ID)
		return t.p.Stop(ctx, t.m.Engine, running)
	},
}
