package rollback

import (
	"context"
	"fmt"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/project"
)

// rollbackRepin loads the project from the restored compose files and makes each service
// run the image it ran: the old image re-pinned by ID under its reference (a compose file
// the user had already edited for the upgrade is edited back to name it).
var rollbackRepin = journal.Step[*rtxn]{
	Name:     "repin",
	Journal:  journal.PhaseRollingBack,
	Describe: func(*rtxn) string { return "re-pin the images the services ran" },
	Run: func(ctx context.Context, t *rtxn) error {
		man := t.man
		old, err := t.env.Load(ctx, project.Options{Files: man.ComposeFiles, Name: t.p.Name, WorkingDir: man.WorkingDir, EnvFiles: envFilesFor(man), Profiles: man.Profiles})
		if err != nil {
			return fmt.Errorf("loading the restored compose files: %w", err)
		}
		target, edits, warns, err := t.env.RunRecorded(ctx, old, man, nil)
		t.res.WorkingDir, t.res.FileEdits, t.res.Warnings = old.WorkingDir, edits, warns
		t.target = target
		return err
	},
}
