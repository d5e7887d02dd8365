package plugin

import (
	"context"
	"fmt"
	"os"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
	"github.com/docker-maim/docker-maim/internal/upgrade"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/docker/cli/cli/command"
	"github.com/docker/compose/v5/cmd/display"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"
)

// env gives commands what they share: the engine, the project, the store, progress.
type env struct {
	cli command.Cli
	g   *globalOptions
}

// engine returns the engine client after checking that the engine answers.
func (e *env) engine(ctx context.Context) (client.APIClient, error) {
	c := e.cli.Client()
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		host := e.cli.DockerEndpoint().Host
		return nil, fmt.Errorf("%w at %s: %v", ErrEngine, host, err)
	}
	return c, nil
}

// store is the backup store, its root resolved once here (absolute, symlinks evaluated:
// backup.ResolveDir) so that every check against the data sources sees the real place.
func (e *env) store() (backup.Store, error) {
	if e.g.BackupDir == "" {
		r, err := backup.DefaultRoot()
		if err != nil {
			return backup.Store{}, err
		}
		return backup.Local(r), nil
	}
	r, err := backup.ResolveDir(e.g.BackupDir)
	if err != nil {
		return backup.Store{}, fmt.Errorf("--backup-dir %s: %w", e.g.BackupDir, err)
	}
	return backup.Local(r), nil
}

// state is the engine's state directory (the projects' locks, journals and histories),
// keyed by the engine's ID, asked once here; an engine without one by its endpoint.
func (e *env) state(ctx context.Context, eng client.APIClient) (backup.State, error) {
	var id string
	if info, err := eng.Info(ctx, client.InfoOptions{}); err == nil {
		id = info.Info.ID
	}
	return backup.OpenState(id, e.cli.DockerEndpoint().Host)
}

// compose returns the compose SDK service. Its prompt always answers no: compose asks
// before deleting a volume whose config hash disagrees, and docker-maim never lets it.
func (e *env) compose() (api.Compose, error) {
	var events api.EventProcessor
	switch e.g.Progress {
	case "quiet", "json":
		events = display.Quiet()
	default:
		events = display.Plain(e.cli.Err())
	}
	return compose.NewComposeService(e.cli,
		compose.WithPrompt(func(string, bool) (bool, error) { return false, nil }),
		compose.WithEventProcessor(events),
	)
}

// project resolves the selected compose project.
func (e *env) project(ctx context.Context, eng client.APIClient) (*project.Project, error) {
	svc, err := e.compose()
	if err != nil {
		return nil, err
	}
	return project.Resolve(ctx, svc, eng, project.Options{
		Files: e.g.Files, Name: e.g.Name, WorkingDir: e.g.WorkingDir, EnvFiles: e.g.EnvFiles, Profiles: e.g.Profiles,
	})
}

// openUpgrades opens a session (see open) and its upgrade manager.
func (e *env) openUpgrades(ctx context.Context, lock bool) (*session, *upgrade.Manager, error) {
	s, err := e.open(ctx, lock)
	if err != nil {
		return nil, nil, err
	}
	m, err := e.upgrades(s)
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, m, nil
}

// upgrades returns the upgrade manager for a session.
func (e *env) upgrades(s *session) (*upgrade.Manager, error) {
	cs, err := e.compose()
	if err != nil {
		return nil, err
	}
	return &upgrade.Manager{
		Engine:    s.eng,
		Compose:   cs,
		Snapshots: s.snapshots(Version),
		Store:     s.store,
		State:     s.state,
		Progress:  s.progress,
		Load: func(ctx context.Context, o project.Options) (*project.Project, error) {
			return project.Resolve(ctx, cs, s.eng, o)
		},
		Auth: func(ref string) string {
			tok, _ := command.RetrieveAuthTokenFromImage(e.cli.ConfigFile(), ref)
			return tok
		},
		Log: e.cli.Err(),
	}, nil
}

func (e *env) progress() (*progress.Reporter, error) {
	return progress.New(progress.Mode(e.g.Progress), e.cli.Err())
}

// session is an engine, a resolved project, the store with the project locked, and progress.
type session struct {
	eng      client.APIClient
	proj     *project.Project
	store    backup.Store
	state    backup.State
	progress *progress.Reporter
	unlock   func()
}

func (s *session) close() {
	if s.progress != nil {
		s.progress.Close()
	}
	if s.unlock != nil {
		s.unlock()
	}
}

// open resolves everything a project command needs and, with lock, takes the project's lock.
func (e *env) open(ctx context.Context, lock bool) (*session, error) {
	pr, err := e.progress()
	if err != nil {
		return nil, usageError{err}
	}
	eng, err := e.engine(ctx)
	if err != nil {
		return nil, err
	}
	p, err := e.project(ctx, eng)
	if err != nil {
		return nil, err
	}
	st, err := e.store()
	if err != nil {
		return nil, err
	}
	state, err := e.state(ctx, eng)
	if err != nil {
		return nil, err
	}
	if jr, err := (upgrade.Journals{State: state, Store: st, Project: p.Name}).Load(); err == nil && jr != nil {
		fmt.Fprintf(e.cli.Err(), "WARNING: an interrupted %s of project %s stopped in phase %q (%s); `docker maim -p %s rollback` resolves it\n",
			jr.Op, p.Name, jr.Phase, jr.Updated.Local().Format("2006-01-02 15:04:05"), p.Name)
	}
	s := &session{eng: eng, proj: p, store: st, state: state, progress: pr}
	if lock {
		if s.unlock, err = state.Lock(p.Name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *session) snapshots(version string) *snapshot.Service {
	return &snapshot.Service{
		Engine:      s.eng,
		Mover:       volume.NewMover(s.eng),
		Store:       s.store,
		Progress:    s.progress,
		ToolVersion: version,
		Warn:        os.Stderr,
	}
}

func parseCompression(s string) (archive.Compression, error) {
	c, err := archive.ParseCompression(s)
	if err != nil {
		return "", usageError{err}
	}
	return c, nil
}
