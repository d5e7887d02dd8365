package app

import (
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/upgrade"
)

// BackupOptions tune Backup.
type BackupOptions struct {
	Scope Scope
	// Excludes are paths (patterns relative to each source) left out of the archives.
	Excludes []string
	// NoStop archives while the services run (hot backup; may be inconsistent).
	NoStop bool
	// OnePass archives everything with the services stopped (the old way); by default a
	// backup of running services is two-pass: a hot copy first, then only what changed
	// since, stopped (the downtime does not grow with the data).
	OnePass bool
	// Compression of the archives ("" is zstd).
	Compression archive.Compression
	// Level is the compression level (0: the codec's default).
	Level int
	// IncludeHostPaths are bind sources backed up although they belong to the host.
	IncludeHostPaths []string
}

// BackupResult says what Backup stored.
type BackupResult struct {
	ID      string         `json:"id"`
	Project string         `json:"project"`
	Reason  string         `json:"reason"`
	Time    time.Time      `json:"time"`
	Dir     string         `json:"dir"`     // the backup's directory in the store
	Sources []BackupSource `json:"sources"` // every archived source
	Bytes   int64          `json:"bytes"`   // content bytes, uncompressed
	Size    int64          `json:"size"`    // archive bytes
	// Duration is how long the backup took (nanoseconds in JSON).
	Duration time.Duration `json:"duration_ns"`
	// Downtime is how long the services were stopped (0 when nothing was stopped).
	Downtime time.Duration `json:"downtime_ns,omitempty"`
	// TwoPass says the backup was two-pass (a hot copy and the changes since, stopped).
	TwoPass bool `json:"two_pass,omitempty"`
	// Stopped are the services stopped for the backup and started again after it (what ran
	// right before the stop), in start order; StoppedOneOffs the service of each one-off
	// container (`docker compose run`) stopped and started again with them. Both empty
	// with --no-stop.
	Stopped        []string `json:"stopped"`
	StoppedOneOffs []string `json:"stopped_one_offs,omitempty"`
	// NotBackedUp are the host paths left out (never restored either).
	NotBackedUp []HostPath `json:"not_backed_up"`
	// DataPath is how the data moved (internal/volume): "host", "helper container
	// (linux/ARCH)" or "archive API: <why>", "; "-joined when moves took several; "" when
	// no data moved.
	DataPath string `json:"data_path,omitempty"`
}

// BackupSource is one archived source of a backup.
type BackupSource struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Bytes int64  `json:"bytes"` // content bytes
	Size  int64  `json:"size"`  // archive bytes
	Files int64  `json:"files"`
	// OnePass says why a source of a two-pass backup was archived once, stopped.
	OnePass string `json:"one_pass,omitempty"`
}

// HostPath is a bind source left out of a backup because it belongs to the host.
type HostPath struct {
	Name     string `json:"name"`
	HostPath string `json:"host_path"`
	Why      string `json:"why"`
}

// BackupsOptions select the project whose backups Backups lists.
type BackupsOptions struct {
	Scope Scope
	// AllEngines lists the backups other engines keep in the same backup dir too (by
	// default only this engine's, other users' on it, and those whose engine is unknown).
	AllEngines bool
}

// BackupsResult lists a project's backups, newest first.
type BackupsResult struct {
	Project string      `json:"project"`
	Backups []BackupRow `json:"backups"`
}

// BackupRow is one backup of the store, complete or not.
type BackupRow struct {
	ID          string    `json:"id"`
	Project     string    `json:"project,omitempty"`
	Time        time.Time `json:"time,omitzero"`
	Reason      string    `json:"reason,omitempty"`
	Size        int64     `json:"size"`
	Bytes       int64     `json:"bytes"`
	Sources     []string  `json:"sources"`
	Status      string    `json:"status"` // backup.Status: complete, incomplete, damaged, unreadable
	Problem     string    `json:"problem,omitempty"`
	ToolVersion string    `json:"tool_version,omitempty"`
	Dir         string    `json:"dir"`
	// AppVersions are the application's data and config versions the backup recorded
	// (backup.Manifest.AppVersions: MaiBot's database schema and configs' [inner].version).
	AppVersions map[string]string `json:"app_versions,omitempty"`
	// Origin is the engine and user that made the backup (absent for a backup made by a
	// docker-maim that did not record it, and when the manifest cannot be read).
	Origin *backup.Origin `json:"origin,omitempty"`
	// Owner is whose it is from here (backup.Owner): "this" (this engine and user),
	// "other-user", "other-engine" (listed with AllEngines only), "unrecorded", "unknown".
	Owner string `json:"owner"`
}

// VerifyOptions select the backup Verify checks.
type VerifyOptions struct {
	Scope Scope
	// ID of the backup ("" is the newest).
	ID string
}

// VerifyResult is a backup found intact (a damaged one is a *VerifyError).
type VerifyResult struct {
	ID       string `json:"id"`
	Project  string `json:"project"`
	Intact   bool   `json:"intact"`
	Archives int    `json:"archives"`
	Bytes    int64  `json:"bytes"` // content bytes read
	Size     int64  `json:"size"`  // archive bytes read
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	Scope Scope
	// ID of the backup ("" is the newest complete one that is not a safety backup).
	ID string
	// Sources restores only these sources (names as Backups lists them).
	Sources []string
	// NoSafetyBackup skips backing up the current data first.
	NoSafetyBackup bool
	// ToRecordedPaths writes the paths and volumes the backup recorded, also where the
	// project now uses others.
	ToRecordedPaths bool
	Health          health.Options
}

// RestoreResult says what a restore did (its JSON fields are upgrade.RestoreResult's
// and the project's name).
type RestoreResult struct {
	Project string `json:"project"`
	*upgrade.RestoreResult
	// DataPath is how the data moved (internal/volume): "host", "helper container
	// (linux/ARCH)" or "archive API: <why>", "; "-joined when moves took several; "" when
	// no data moved.
	DataPath string `json:"data_path,omitempty"`
}

// UpgradeOptions tune Upgrade.
type UpgradeOptions struct {
	Scope Scope
	// Images maps a service to the image it is upgraded to instead of the compose file's.
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
	// KeepUnknown keeps config keys the new template no longer has.
	KeepUnknown bool
	// ShowSecrets shows secret values in the plan's config diffs.
	ShowSecrets bool
	// Compression of the backup ("" is zstd).
	Compression      archive.Compression
	IncludeHostPaths []string
	Health           health.Options
	// ComposeFiles are a release's new compose files (--compose-file), Base its previous
	// ones (--base): see upgrade.Options.
	ComposeFiles []upgrade.NewFile
	Base         []upgrade.NewFile
	// OnePass archives everything after the stop (--one-pass); by default the upgrade's
	// backup is two-pass (a hot copy first, only the changes after the stop).
	OnePass bool
}

// UpgradeResult reports an upgrade (its JSON fields are upgrade.Result's, but "error":
// a face reports the returned error itself).
type UpgradeResult struct {
	*upgrade.Result
	// WorkingDir is the project directory (file edits are described from it).
	WorkingDir string `json:"-"`
	// DataPath is how the data moved (internal/volume): "host", "helper container
	// (linux/ARCH)" or "archive API: <why>", "; "-joined when moves took several; "" when
	// no data moved.
	DataPath string `json:"data_path,omitempty"`
}

// RollbackOptions tune Rollback.
type RollbackOptions struct {
	Scope Scope
	// ID of the backup ("" resolves an interrupted operation, else the last upgrade's).
	ID             string
	NoSafetyBackup bool
	Health         health.Options
}

// RollbackResult says what a rollback did (upgrade.RollbackResult's fields and the project).
type RollbackResult struct {
	Project string `json:"project"`
	*upgrade.RollbackResult
	// DataPath is how the data moved (internal/volume): "host", "helper container
	// (linux/ARCH)" or "archive API: <why>", "; "-joined when moves took several; "" when
	// no data moved.
	DataPath string `json:"data_path,omitempty"`
}

// StatusOptions select the project Status reports.
type StatusOptions struct {
	Scope Scope
}

// StatusResult is the project's status (upgrade.Status's fields).
type StatusResult struct {
	*upgrade.Status
}

// PruneOptions tune Prune.
type PruneOptions struct {
	Scope Scope
	// Keep, OlderThan, IncludeUnreadable, DryRun: see upgrade.PruneOptions.
	upgrade.PruneOptions
}

// PruneResult is what prune removed and kept (upgrade.PruneResult's fields and the project).
type PruneResult struct {
	Project string `json:"project"`
	*upgrade.PruneResult
}

// MergeConfigOptions tune MergeConfig.
type MergeConfigOptions struct {
	Template string // the new version's template file
	Current  string // the config file in use now
	// Output, when set, is replaced atomically by the merged file (keeping owner and
	// mode); else the merged bytes are only in the result.
	Output string
	// Format of the files ("": from the file names).
	Format      config.Format
	KeepUnknown bool
	// VersionKeys are dotted keys always taken from the template. nil is the format's
	// default (inner.version for TOML); an empty non-nil slice is none.
	VersionKeys []string
}

// MergeConfigResult is a merge's output and report. Its JSON is the report's
// (config.Report.JSON).
type MergeConfigResult struct {
	Merged []byte        `json:"-"` // the merged file (also written to Output when set)
	Output string        `json:"-"`
	Report config.Report `json:"-"`
}
