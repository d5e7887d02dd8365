package rollback

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/journal"
)

// rollbackRecreate removes the project's hook containers (a failed pre_start keeps its
// own), recreates the services on the images they ran and leaves stopped what was stopped
// before the upgrade.
var rollbackRecreate = journal.Step[*rtxn]{
	Name:    "recreate",
	Journal: journal.PhaseRollingBack,
	Describe: func(t *rtxn) string {
		if t.man.Upgrade != nil && len(t.man.Upgrade.Adopted) > 0 {
			return "recreate the services of the restored compose files on the images they ran; remove the containers of services those files do not have"
		}
		return "recreate the services on the images they ran"
	},
	Run: func(ctx context.Context, t *rtxn) error {
		// An upgrade that swapped the compose files: the services the new files added go.
		adopted := t.man.Upgrade != nil && len(t.man.Upgrade.Adopted) > 0
		// A pre_start hook that failed kept its container (internal/stack, hooks.go): it goes.
		if err := t.env.RemoveHookContainers(ctx, t.p.Name); err != nil {
			return err
		}
		if err := t.env.Up(ctx, t.target, adopted); err != nil {
			return fmt.Errorf("recreate: %w", err)
		}
		if len(t.man.Running) > 0 {
			return t.env.LeaveStopped(ctx, t.target, t.man.Running)
		}
		return nil
	},
}
