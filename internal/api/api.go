// Package api is docker-maim's vocabulary, in the manner of compose's pkg/api: the Service
// interface with every verb the tool offers (Backup, Backups, Verify, Restore, Upgrade,
// Rollback, Status, Prune, MergeConfig, Projects; Detach and Attach for operations that
// outlive their caller; Describe for shell completion), each verb's
// one options type and one result type (with the JSON tags of docs/json.md and
// docs/schema), the parts a result is made of (the upgrade's plan, outcomes, journal
// records), and the kinds of error a verb returns (sentinels for errors.Is, types for
// errors.As).
//
// It sits at the floor: it imports nothing of docker-maim and holds no behaviour beyond
// the short string forms of its values. The implementation (internal/app) and the packages
// below it use these types as they are, down to the engine-side code (an upgrade's
// options reach upgrade.Manager unchanged); a face (internal/plugin, a Docker Desktop
// extension) parses its input into options, calls a Service and presents the result,
// importing nothing else of docker-maim.
//
// Some verbs return a result together with an error (an upgrade that was rolled back, a
// restore that failed after it began, a prune that removed some backups): the result says
// what was done, the error why it did not end well.
package api

import (
	"context"
	"io"
)

// Service is every verb of docker-maim. The implementation is internal/app's; faces and
// their tests may use any other.
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
	// Schedule sets, lists or removes the systemd timer or cron line that runs backup then
	// prune for a project. It needs no engine (one is asked, when reachable, to find a
	// project named by -p alone).
	Schedule(ctx context.Context, o ScheduleOptions) (*ScheduleResult, error)
	// MergeConfig merges a config file into a new template. It needs no engine.
	MergeConfig(ctx context.Context, o MergeConfigOptions) (*MergeConfigResult, error)
	// Projects lists the Compose projects that have containers on the engine.
	Projects(ctx context.Context, o ProjectsOptions) (*ProjectsResult, error)
	// Detach runs a long verb's command line again in a process of its own session that
	// outlives the caller, writing its progress and result into a file in the project's
	// state dir. It returns once that process holds the project lock, or has ended.
	Detach(ctx context.Context, o DetachOptions) (*DetachResult, error)
	// Attach replays a detached operation's progress lines (on Config.Err) and follows them
	// until the operation ends; cancelling ctx stops following, never the operation.
	Attach(ctx context.Context, o AttachOptions) (*AttachResult, error)

	// Describe reads the project's services, profiles and data sources from its compose
	// files and its backups from the store, without contacting the engine, taking a lock
	// or writing anything: cheap enough for shell completion. What it cannot read is left
	// empty; the error says why (a project named by -p alone has no compose files to read,
	// yet its backups are listed).
	Describe(ctx context.Context, o DescribeOptions) (*DescribeResult, error)

	// KnownProjects lists the projects docker-maim has a state directory for, on any
	// engine, without contacting one (the names the CLI hooks recognise). A name is only
	// ever listed, never joined into a path.
	KnownProjects() []string
	// Helpers lists the data-mover helper programs this build embeds (none on a plain
	// `go build` of a clean clone). It contacts no engine.
	Helpers() []Helper
}

// Config is what a Service is built with: how progress is shown and where the
// human-readable side output (progress, warnings, compose events) goes.
type Config struct {
	// Progress is the progress mode: auto, tty, plain, json or quiet.
	Progress string
	// Err receives progress, warnings and compose's own events (stderr for the CLI); nil
	// is os.Stderr.
	Err io.Writer
	// ToolVersion is written into every backup's manifest.
	ToolVersion string
}

// Scope selects the compose project and the backup store a verb works on, as compose's
// global flags and --backup-dir do.
type Scope struct {
	// Files are the compose files (default: compose.yaml in WorkingDir or the current
	// dir, or COMPOSE_FILE).
	Files []string
	// Name is the project name (or COMPOSE_PROJECT_NAME); alone, the project is found
	// from its containers' labels.
	Name string
	// WorkingDir is the project directory (default: the first compose file's dir).
	WorkingDir string
	// EnvFiles are alternate env files.
	EnvFiles []string
	// Profiles are the compose profiles to enable.
	Profiles []string
	// BackupDir is the backup store's root (default: MAIM_BACKUP_DIR or
	// ~/.local/share/docker-maim/backups).
	BackupDir string
	// Remote is the off-host copy of the backups (--remote, MAIM_REMOTE): every complete
	// backup is copied there, a restore or rollback fetches from it, prune prunes it too.
	Remote RemoteOptions
}

// Helper is one helper program a build embeds.
type Helper struct {
	// Platform it runs on, "linux/amd64".
	Platform string
	// Size in bytes.
	Size int64
	// SHA256 of the program, hex.
	SHA256 string
}
