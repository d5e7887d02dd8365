package rollback

import (
	"context"
	"errors"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/stack"
)

// rollbackStop stops what runs now (the failed version, or what the user started since;
// stack.StopWhatRuns). What ran is not journaled: the rollback starts what ran at the backup.
var rollbackStop = journal.Step[*rtxn]{
	Name:     "stop",
	Journal:  journal.PhaseRollingBack,
	Describe: func(*rtxn) string { return "stop what runs" },
	Run: func(ctx context.Context, t *rtxn) error {
		running, _, err := t.env.StopWhatRuns(ctx, t.p, stack.Stop{Announce: "rolling back to backup " + t.man.ID})
		var se *stack.StopError
		if errors.As(err, &se) && se.Step == stack.StepList {
			return se.Err
		}
		t.running = running
		if se != nil {
			return se.Err // as the engine said it, not "stopping: ..."
		}
		return err
	},
}
