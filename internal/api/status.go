package api

import "time"

// StatusOptions select the project Status reports.
type StatusOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
}

// StatusResult is the project's state, its last upgrade and any interrupted operation.
type StatusResult struct {
	// Project is the compose project's name.
	Project string `json:"project"`
	// Services are its containers as they are now, by service and container name.
	Services []ServiceStatus `json:"services"`
	// LastUpgrade is the last upgrade that did something (not nothing-to-do).
	LastUpgrade *Record `json:"last_upgrade,omitempty"`
	// LastOp is the last operation of any kind.
	LastOp *Record `json:"last_operation,omitempty"`
	// Interrupted is an operation left unfinished, and how to resolve it.
	Interrupted *Interrupted `json:"interrupted,omitempty"`
	// Detached is a detached operation that runs now (docker maim attach follows it); its
	// journal is then not reported as Interrupted: it is not interrupted, it runs.
	Detached *DetachedOperation `json:"detached,omitempty"`
	// Backups counts the project's backups in the store (this engine's).
	Backups int `json:"backups"`
	// AppVersions are the application's data and config versions now (MaiBot: database
	// schema, configs' [inner].version, read from the host); LastUpgradeAppVersions the
	// ones the last upgrade's backup recorded (what a rollback restores).
	AppVersions            map[string]string `json:"app_versions,omitempty"`
	LastUpgradeAppVersions map[string]string `json:"last_upgrade_app_versions,omitempty"`
}

// ServiceStatus is one container of a service as it is now.
type ServiceStatus struct {
	// Service is the compose service.
	Service string `json:"service"`
	// Container is the container's name.
	Container string `json:"container"`
	// Image is the reference it was created from, ImageID the image it runs.
	Image   string `json:"image"`
	ImageID string `json:"image_id"`
	// Version is the image's OCI version label.
	Version string `json:"version,omitempty"`
	// Digest is the image's first repo digest.
	Digest string `json:"digest,omitempty"`
	// State is the container's state (running, exited, ...).
	State string `json:"state"`
	// Health is its healthcheck status, when it has one.
	Health string `json:"health,omitempty"`
}

// Interrupted describes a journal left behind and how to resolve it.
type Interrupted struct {
	Journal
	// Resolve lists the commands that resolve it.
	Resolve []string `json:"resolve"`
}

// JournalPhase is a step of a journaled operation, written to the journal before the step
// acts (the values are internal/upgrade's Phase* constants).
type JournalPhase string

// Journal is the record of an operation in progress. It lives in the engine's state
// directory, <state>/<engine>/<project>/journal.json, whatever backup dir the command
// used, and is removed when the operation ends; finished operations are appended to
// history.jsonl beside it (Record). A journal left behind means the process died
// (kill -9, engine restart): the next command reports it, with any backup dir, and
// `docker maim rollback` resolves it from the backup dir it names.
type Journal struct {
	// Op is "upgrade", "rollback" or "restore".
	Op string `json:"op"`
	// Project is the compose project's name.
	Project string `json:"project"`
	// PID of the process that ran it.
	PID int `json:"pid"`
	// Started and Updated are when it began and when the journal was last written.
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Phase is the step it was in.
	Phase JournalPhase `json:"phase"`
	// BackupID is the backup made by this operation (set in phase backed-up, or the
	// partial one while backing up); for a restore, its safety backup.
	BackupID string `json:"backup_id,omitempty"`
	// BackupDir is the backup store the operation used: the backups it names (BackupID,
	// Restore.ID) are there, whatever --backup-dir resolves it.
	BackupDir string `json:"backup_dir,omitempty"`
	// Restore is set for op "restore".
	Restore *RestoreInfo `json:"restore,omitempty"`
	// Running are the services that ran before, with their container IDs, and the one-off
	// containers that ran: what is started again when the operation is undone before its
	// data changed.
	Running    []string            `json:"running"`
	Containers map[string][]string `json:"containers"`
	OneOffs    map[string][]string `json:"one_off_containers,omitempty"`
	// Images are the service images before (ID and reference) and the targets.
	Images []ImageChange `json:"images"`
	// WorkingDir and ComposeFiles say how to load the project again.
	WorkingDir   string   `json:"working_dir"`
	ComposeFiles []string `json:"compose_files"`
	// EnvFiles and Profiles are the project's env files and enabled profiles.
	EnvFiles []string `json:"env_files,omitempty"`
	Profiles []string `json:"profiles,omitempty"`
	// Adopt records the renames of an adoption's merged files.
	Adopt *AdoptRenames `json:"adopt,omitempty"`
}

// RestoreInfo is what a journaled restore restores.
type RestoreInfo struct {
	// ID is the backup being restored.
	ID string `json:"id"`
	// Sources are the sources asked for (--source).
	Sources []string `json:"sources,omitempty"`
	// ToRecordedPaths: --to-recorded-paths.
	ToRecordedPaths bool `json:"to_recorded_paths,omitempty"`
}

// AdoptRenames is the journal's record of an adoption's renames.
type AdoptRenames struct {
	// Files are the project's compose files the merged ones replace.
	Files []string `json:"files"`
	// Renaming: every merged file is written in full beside its file; renames may have
	// happened.
	Renaming bool `json:"renaming,omitempty"`
}

// Record is one finished operation in history.jsonl.
type Record struct {
	// Op is "upgrade", "rollback" or "restore".
	Op string `json:"op"`
	// Result is how it ended: an upgrade's Outcome ("upgraded", "rolled-back",
	// "rollback-failed", "refused", ...); a rollback's "rolled-back"; a restore's
	// "restored", "failed", "refused" or "rolled-back" (its safety backup put back).
	Result string `json:"result"`
	// Started and Finished are when it ran.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// BackupID is the backup it made or used.
	BackupID string `json:"backup_id,omitempty"`
	// Images are the service images before and after.
	Images []ImageChange `json:"images,omitempty"`
	// Downtime is how long the services were stopped.
	Downtime time.Duration `json:"downtime_ns,omitempty"`
	// Error is why it failed.
	Error string `json:"error,omitempty"`
}
