package app

import (
	"context"
	"fmt"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/svchooks"
)

// The backup verb's service commands (internal/svchooks): the pre-backup commands
// (offen's docker-volume-backup.archive-pre, x-maim pre_backup) run in the running
// containers after the plan and before pass one, so what they write (a dump into a volume)
// is in the backup; one that fails refuses the backup before anything stops. The
// post-backup commands run once the backup is complete and what was stopped runs again;
// one that fails leaves the backup complete and kept, and the verb fails (exit 1) naming
// it: a cron job's monitoring hears of it, the backup is there.

// bprePhase runs the pre-backup commands.
var bprePhase = journal.Step[*btxn]{
	Name: "pre-backup",
	Skip: func(t *btxn) string {
		if len(svchooks.For(t.hooks, maim.HookPreBackup)) == 0 {
			return "no pre-backup command"
		}
		return ""
	},
	Describe: func(*btxn) string { return "run the pre-backup commands in the running containers" },
	Run: func(ctx context.Context, t *btxn) error {
		if err := t.runHooks(ctx, maim.HookPreBackup); err != nil {
			return refused{err}
		}
		return nil
	},
}

// bpostPhase runs the post-backup commands (Final: the backup is complete).
var bpostPhase = journal.Step[*btxn]{
	Name:  "post-backup",
	Final: true,
	Skip: func(t *btxn) string {
		if len(svchooks.For(t.hooks, maim.HookPostBackup)) == 0 {
			return "no post-backup command"
		}
		return ""
	},
	Describe: func(*btxn) string { return "run the post-backup commands in the running containers" },
	Run: func(ctx context.Context, t *btxn) error {
		if err := t.runHooks(ctx, maim.HookPostBackup); err != nil {
			return fmt.Errorf("backup %s is complete and kept, but %w", t.m.ID, err)
		}
		return nil
	},
}

// runHooks runs the commands of when in the containers of the project that run now.
func (t *btxn) runHooks(ctx context.Context, when string) error {
	r, err := t.p.RunningContainers(ctx, t.env.Engine)
	if err != nil {
		return err
	}
	return svchooks.RunAll(ctx, t.env.Engine, svchooks.For(t.hooks, when), svchooks.Containers(r.IDs), t.env.Logf)
}

// readHooks reads the project's service commands and stop-during-backup services (a
// label or key that cannot be used refuses the backup) and keeps the listed services out
// of pass one.
func (t *btxn) readHooks() error {
	h, err := svchooks.FromProject(t.p.Project)
	if err != nil {
		return refused{err}
	}
	t.hooks = h
	for _, s := range h.StopDuringBackup {
		if t.opts.NoStop {
			t.env.Logf("warning: %s asks to be archived only while stopped (stop-during-backup); --no-stop archives it while it runs", s)
		}
	}
	t.opts.ColdServices = h.StopDuringBackup
	if err := t.readDumps(h); err != nil {
		return refused{err}
	}
	for _, ig := range h.Ignored {
		t.env.Logf("%s", ig)
	}
	return nil
}

// refused is a backup refused before anything stopped (exit 12: api.ErrRefused).
type refused struct{ err error }

func (e refused) Error() string   { return "backup refused, nothing was stopped: " + e.err.Error() }
func (e refused) Unwrap() []error { return []error{e.err, maim.ErrRefused} }
