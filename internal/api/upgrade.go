package api

import "time"

// UpgradeOptions tune Upgrade; the engine side (upgrade.Manager) takes them as they are
// and ignores Scope.
type UpgradeOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
	// Images maps a service to the image it is upgraded to instead of the compose file's
	// (--image SERVICE=REF).
	Images map[string]string
	// Force runs the upgrade even when no image changed.
	Force bool
	// DryRun only plans: it changes nothing.
	DryRun bool
	// AcceptBreaking goes ahead with a breaking change.
	AcceptBreaking bool
	// NoAutoRollback leaves a failed upgrade as it is.
	NoAutoRollback bool
	// ResetData empties these sources once they are in the backup.
	ResetData []string
	// MigrateDB are the PostgreSQL services whose major version rise is carried out by a
	// dump and a load (--migrate-db SERVICE): without it such a rise is refused.
	MigrateDB []string
	// KeepUnknown keeps config keys the new template no longer has.
	KeepUnknown bool
	// ShowSecrets shows secret values in the plan's config and compose file diffs.
	ShowSecrets bool
	// Health tunes the gate the upgraded services must pass.
	Health HealthOptions
	// Compression of the upgrade's backup ("" is zstd).
	Compression Compression
	// Level is the backup's compression level (0: the codec's default).
	Level int
	// IncludeHostPaths are host paths backed up as data (--include-host-path).
	IncludeHostPaths []string
	// ComposeFiles are a release's new compose files (--compose-file): merged with the
	// project's files they replace positionally and written in place.
	ComposeFiles []NewFile
	// Encrypt says whom the upgrade's backup is sealed to and whether locally too.
	Encrypt EncryptOptions
	// Identities are identity files (--identity; empty: MAIM_AGE_IDENTITY): with
	// Encrypt.Local one must open what the recipients seal, for the failure path
	// restores from the encrypted backup.
	Identities []string
	// Base are the release's previous files (--base), one per ComposeFiles entry: the
	// base of a three-way merge (none: the one an earlier adoption recorded, else two-way).
	Base []NewFile
	// OnePass archives everything after the stop (--one-pass); by default the backup is
	// two-pass: a hot copy while the services run, only the changes after the stop.
	OnePass bool
	// SourcePolicies set sources' backup policies (--source-policy NAME=POLICY), over what
	// the compose file sets: a never source is left out of the upgrade's backup (not
	// protected), a changed one is referenced from the last backup when unchanged.
	SourcePolicies map[string]SourcePolicy
	// Full takes every source whole (--full), not incrementally from the last backup.
	Full bool
	// MaxDeltas is how many incremental backups of a source follow a full one
	// (--max-deltas; 0: 7).
	MaxDeltas int
	// Notify says where and when to send how the upgrade ended (a dry run sends nothing;
	// its plan lists the targets: Plan.Notify).
	Notify NotifyOptions
}

// NewFile is a compose file given to upgrade --compose-file or --base: where it came from
// (a path, "-" for stdin) and its bytes.
type NewFile struct {
	// Name is the path it was read from ("-" for stdin).
	Name string
	// Data are its bytes.
	Data []byte
}

// Outcome is how an upgrade ended.
type Outcome string

const (
	OutcomeUpgraded       Outcome = "upgraded"
	OutcomeNothingToDo    Outcome = "nothing-to-do"
	OutcomeDryRun         Outcome = "dry-run"
	OutcomeRefused        Outcome = "refused"
	OutcomeFailed         Outcome = "failed" // failed, not rolled back (--no-auto-rollback)
	OutcomeRolledBack     Outcome = "rolled-back"
	OutcomeRollbackFailed Outcome = "rollback-failed"
)

// UpgradeResult reports an upgrade.
type UpgradeResult struct {
	// Plan is what the upgrade worked out before anything stopped.
	Plan *Plan `json:"plan"`
	// Outcome is how it ended.
	Outcome Outcome `json:"outcome"`
	// Remote says how each backup this verb made was copied to the remote (--remote);
	// empty without one.
	Remote []RemoteCopy `json:"remote,omitempty"`
	// BackupID is the upgrade's backup.
	BackupID string `json:"backup_id,omitempty"`
	// Downtime is how long the services were stopped (nanoseconds in JSON).
	Downtime time.Duration `json:"downtime_ns,omitempty"`
	// Error is the failure as the history records it. A Service returns it empty: the
	// returned error says it, and a face reports that.
	Error string `json:"error,omitempty"`
	// Recovery lists the commands to run by hand when the rollback failed.
	Recovery []string `json:"recovery,omitempty"`
	// FileEdits are the edits the upgrade wrote into the compose or env files (--image).
	FileEdits []FileEdit `json:"file_edits,omitempty"`
	// Rollback says what the automatic rollback did (outcome rolled-back).
	Rollback *RollbackReport `json:"rollback,omitempty"`
	// WorkingDir is the project directory (file edits are described from it).
	WorkingDir string `json:"-"`
	// DataPath is how the data moved: "host", "helper container (linux/ARCH)" or
	// "archive API: <why>", "; "-joined when moves took several; "" when no data moved.
	DataPath string `json:"data_path,omitempty"`
}

// RollbackOptions tune Rollback; the engine side takes them as they are and ignores Scope.
type RollbackOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
	// ID of the backup to go back to; "" resolves an interrupted operation, else goes
	// back to the last upgrade's backup.
	ID string
	// NoSafetyBackup skips backing up the current data first.
	NoSafetyBackup bool
	// Health tunes the gate the restarted services must pass.
	Health HealthOptions
	// DryRun only works out the rollback's plan (RollbackResult.Plan): which backup (or
	// the interrupted operation it would resolve), checked; nothing stopped or written.
	DryRun bool
	// Notify says where and when to send how the rollback ended.
	Notify NotifyOptions
	// Identities are identity files (--identity; empty: MAIM_AGE_IDENTITY) that open an
	// encrypted backup; needed only for one.
	Identities []string
}

// RollbackResult says what the rollback verb did.
type RollbackResult struct {
	// Project is the compose project's name.
	Project string `json:"project"`
	*RollbackReport
	// DataPath is how the data moved: "host", "helper container (linux/ARCH)" or
	// "archive API: <why>", "; "-joined when moves took several; "" when no data moved.
	DataPath string `json:"data_path,omitempty"`
	// Fetched is set when the backup was downloaded from the remote first (the local copy
	// was missing or failed its hashes).
	Fetched *Fetched `json:"fetched,omitempty"`
	// Remote says how each backup this verb made was copied to the remote (--remote);
	// empty without one.
	Remote []RemoteCopy `json:"remote,omitempty"`
	// DryRun: nothing was changed; Plan says what the rollback would do.
	DryRun bool `json:"dry_run,omitempty"`
	// Plan is what a --dry-run rollback would do (nil otherwise).
	Plan *RestorePlan `json:"plan,omitempty"`
}

// RollbackReport says what a rollback did: the rollback verb's, or an upgrade's
// automatic one (UpgradeResult.Rollback).
type RollbackReport struct {
	// BackupID is the backup gone back to.
	BackupID string `json:"backup_id"`
	// SafetyID is the safety backup of the data before the rollback.
	SafetyID string `json:"safety_backup_id,omitempty"`
	// Resolved is the interrupted operation this rollback resolved ("" for none).
	Resolved string `json:"resolved,omitempty"`
	// Images are the service images put back.
	Images []ImageChange `json:"images,omitempty"`
	// FileEdits are the edits that made the compose or env files name the images the
	// services run again (the user had edited them for the upgrade).
	FileEdits []FileEdit `json:"file_edits,omitempty"`
	// WorkingDir is the project directory (the edits' files are described from it).
	WorkingDir string `json:"-"`
	// Warnings are what the rollback could not do as asked but did not fail for.
	Warnings []string `json:"warnings,omitempty"`
}
