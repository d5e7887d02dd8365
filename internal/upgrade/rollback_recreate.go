package upgrade

import (
	"context"
	"fmt"
)

// rollbackRecreate recreates the services on the images they ran and leaves stopped what
// was stopped before the upgrade.
var rollbackRecreate = phase[*rtxn]{
	name:     "recreate",
	journal:  PhaseRollingBack,
	describe: func(*rtxn) string { return "recreate the services on the images they ran" },
	run: func(ctx context.Context, t *rtxn) error {
		if err := t.m.recreate(ctx, t.target); err != nil {
			return fmt.Errorf("recreate: %w", err)
		}
		if len(t.man.Running) > 0 {
			return t.m.leaveStopped(ctx, t.target, t.man.Running)
		}
		return nil
	},
}
