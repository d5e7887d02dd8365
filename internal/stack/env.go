// Package stack owns what every journaled operation on a project's services shares (the
// upgrade, the restore, the rollback; the backup verb stops and starts with it too): the environment they run in (Env: the engine,
// compose, the snapshots, the backup store, the state dir, progress), the one "stop what
// runs, act, start what ran" operation (stopstart.go), how services are recreated, started
// again and left stopped (services.go), the compose file naming what runs
// (filenames.go), the image pins that keep an old image for a rollback (pins.go), the
// health gate (gate.go), the lifecycle-hook containers (hooks.go) and the retry of a
// rollback while the engine restarts (engineretry.go).
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/svchooks"
	"github.com/docker-maim/docker-maim/internal/templates"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
)

// Engine is what the operations need from the Docker engine.
type Engine interface {
	snapshot.Engine
	health.Engine
	ImageEngine
	templates.Engine
	svchooks.Engine // the commands run inside the services' containers
	DiskUsage(ctx context.Context, options client.DiskUsageOptions) (client.DiskUsageResult, error)
	Pinger
}

// Composer recreates services; api.Compose satisfies it.
type Composer interface {
	Up(ctx context.Context, project *types.Project, options api.UpOptions) error
}

// ReadyRules adds the application's own ready rules to a health gate's options (MaiBot's
// ready banner: internal/maibotgate); man is the backup whose data the services run on
// (nil: none), services the ones gated.
type ReadyRules func(ctx context.Context, p *project.Project, services []string, h health.Options, man *backup.Manifest) health.Options

// Env is what the journaled operations of one project share.
type Env struct {
	Engine    Engine
	Compose   Composer
	Snapshots *snapshot.Service
	Store     backup.Store
	// State is the engine's state directory: the project's journal and history.
	State    backup.State
	Progress *progress.Reporter
	// Load loads the project again from files (after a rollback restored them).
	Load func(ctx context.Context, o project.Options) (*project.Project, error)
	// Auth returns the registry credential for a reference ("" for none).
	Auth func(ref string) string
	// Log receives human-readable progress lines (may be nil).
	Log io.Writer
	// Ready, when set, adds the application's ready rules to every health gate (GateServices).
	Ready ReadyRules
	// PollInterval, when set, is how often the health gate inspects (0: health's default;
	// tests set it short).
	PollInterval time.Duration
}

// Logf reports a human-readable progress line.
func (m *Env) Logf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if m.Progress != nil {
		m.Progress.Event(msg)
	} else if m.Log != nil {
		fmt.Fprintln(m.Log, msg)
	}
}

// AuthFor is the registry credential for ref ("" for none).
func (m *Env) AuthFor(ref string) string {
	if m.Auth == nil {
		return ""
	}
	return m.Auth(ref)
}

// Journals are the journal and history of a project: in the state directory, recording
// the env's backup store. (Progress lines name the runner's steps, not the journal's
// phases: journal.ShowStep.)
func (m *Env) Journals(project string) journal.Journals {
	return journal.Journals{State: m.State, Store: m.Store, Project: project}
}

// ForJournal returns the env that resolves jr: the backups an interrupted operation names
// are in the backup dir it ran with, which need not be this command's. A dir that cannot
// be read is refused, naming it, unless nothing had changed yet (then nothing from it is
// needed: the services are started again and its partial backup stays).
func (m *Env) ForJournal(jr *journal.Journal) (*Env, error) {
	if jr.BackupDir == "" || jr.BackupDir == m.Store.Location() {
		return m, nil
	}
	if st, err := os.Stat(jr.BackupDir); err != nil || !st.IsDir() {
		if !journal.DataChanged(jr.Phase) {
			m.Logf("the backup dir of the interrupted %s, %s, cannot be read; nothing was changed yet, so it is not needed", jr.Op, jr.BackupDir)
			return m, nil
		}
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("the interrupted %s keeps its backup %s in %s, which cannot be read (%v): make it readable again and run `docker maim rollback`",
			jr.Op, jr.BackupID, jr.BackupDir, err)
	}
	m.Logf("the interrupted %s keeps its backup in %s: resolving it from there", jr.Op, jr.BackupDir)
	mm := *m
	mm.Store = backup.Store{Repo: backup.LocalDir{Root: jr.BackupDir}, Origin: m.Store.Origin}
	if m.Snapshots != nil {
		sn := *m.Snapshots
		sn.Store = mm.Store
		mm.Snapshots = &sn
	}
	return &mm, nil
}
