// Package app is docker-maim's application layer: one Service with every verb the tool
// offers (Backup, Backups, Verify, Restore, Upgrade, Rollback, Status, Prune, MergeConfig,
// Projects),
// each taking a documented options struct and returning a result struct with JSON tags.
//
// It owns the wiring a verb needs — the engine client (checked once with a ping), the
// compose SDK service, the backup store, the project lock, progress reporting and project
// resolution — built once per Service and shared by its calls. The work itself stays in
// the packages it calls (snapshot, upgrade, backup, project, config).
//
// A face (the CLI in internal/plugin, a Docker Desktop extension) parses its input into
// options, calls the Service, and presents the result; it needs no engine or compose
// client of its own. Faces map errors to exit codes themselves: the errors returned here
// wrap the sentinel errors of the packages below (backup.ErrLocked, project.ErrNotProject,
// upgrade.ErrInterrupted, *upgrade.Error, ...) and ErrEngine and *VerifyError from here.
//
// Some verbs return a result together with an error (an upgrade that was rolled back, a
// restore that failed after it began, a prune that removed some backups): the result says
// what was done, the error why it did not end well.
package app

import (
	"context"
	"errors"
	"io"
)

// Service is every verb of docker-maim. The implementation is New; faces and their
// tests may use any other.
type Service interface {
	// Backup archives every data source of the project: it stops the running services,
	// snapshots, and starts them again (unless NoStop).
	Backup(ctx context.Context, o BackupOptions) (*BackupResult, error)
	// Backups lists the project's backups, newest first.
	Backups(ctx context.Context, o BackupsOptions) (*BackupsResult, error)
	// Verify re-hashes and reads every archive of a backup against its manifest.
	Verify(ctx context.Context, o VerifyOptions) (*VerifyResult, error)
	// Restore makes the project's data equal to a backup (journaled).
	Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error)
	// Upgrade runs the upgrade transaction (or, with DryRun, only plans it).
	Upgrade(ctx context.Context, o UpgradeOptions) (*UpgradeResult, error)
	// Rollback returns the project to a backup or resolves an interrupted operation.
	Rollback(ctx context.Context, o RollbackOptions) (*RollbackResult, error)
	// Status reports the project's services, last upgrade and interrupted operation.
	Status(ctx context.Context, o StatusOptions) (*StatusResult, error)
	// Prune removes old backups and their image pins.
	Prune(ctx context.Context, o PruneOptions) (*PruneResult, error)
	// MergeConfig merges a config file into a new template. It needs no engine.
	MergeConfig(ctx context.Context, o MergeConfigOptions) (*MergeConfigResult, error)
	// Projects lists the Compose projects that have containers on the engine.
	Projects(ctx context.Context, o ProjectsOptions) (*ProjectsResult, error)
}

// Config is what a Service is built with: how progress is shown and where the
// human-readable side output (progress, warnings, compose events) goes.
type Config struct {
	// Progress is the progress mode: auto, tty, plain, json or quiet (progress.Mode).
	Progress string
	// Err receives progress, warnings and compose's own events (stderr for the CLI).
	Err io.Writer
	// ToolVersion is written into every backup's manifest.
	ToolVersion string
}

// Scope selects the compose project and the backup store a verb works on, as compose's
// global flags and --backup-dir do.
type Scope struct {
	Files      []string // compose files (default: compose.yaml in WorkingDir or the current dir, or COMPOSE_FILE)
	Name       string   // project name (or COMPOSE_PROJECT_NAME); alone, found from the project's containers
	WorkingDir string   // project directory (default: the first compose file's dir)
	EnvFiles   []string // alternate env files
	Profiles   []string // profiles to enable
	BackupDir  string   // backup store root (default: MAIM_BACKUP_DIR or ~/.local/share/docker-maim/backups)
}

// ErrEngine marks an unreachable engine.
var ErrEngine = errors.New("docker engine unreachable")

// VerifyError is a backup that failed verification (Verify, or a restore's check).
type VerifyError struct{ Err error }

func (e *VerifyError) Error() string { return e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

// UsageError marks options a verb cannot work with (a face reports it as a usage error).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }
