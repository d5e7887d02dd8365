package api

import (
	"fmt"
	"path/filepath"
	"strings"
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Scope selects the project and the backup store.
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
	// FromDump, a service's name, loads the logical dump the backup holds of it (backup
	// --dump) into its emptied data dir instead of restoring the archives: the dump's hash
	// is checked first, a safety backup of the data source is taken, and any failure puts it
	// back.
	FromDump string
	// Health tunes the gate the restarted services must pass.
	Health HealthOptions
	// DryRun only works out the restore's plan (RestoreResult.Plan): the backup is chosen
	// and checked, what runs is listed, nothing is stopped or written.
	DryRun bool
	// Notify says where and when to send how the restore ended.
	Notify NotifyOptions
	// Identities are identity files (--identity; empty: MAIM_AGE_IDENTITY, read by app)
	// that open an encrypted backup; needed only for one.
	Identities []string
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	// Project is the compose project's name.
	Project string `json:"project"`
	// BackupID is the backup restored.
	BackupID string `json:"backup_id"`
	// Chosen says why this backup was restored (no ID given).
	Chosen string `json:"chosen,omitempty"`
	// Fetched is set when the backup was downloaded from the remote first (the local copy
	// was missing or failed its hashes).
	Fetched *Fetched `json:"fetched,omitempty"`
	// Remote says how each backup this verb made was copied to the remote (--remote);
	// empty without one.
	Remote []RemoteCopy `json:"remote,omitempty"`
	// SafetyID is the safety backup of the data before the restore.
	SafetyID string `json:"safety_backup_id,omitempty"`
	// Restored are the sources written.
	Restored []string `json:"restored"`
	// Skipped are the backup's sources left as they are (and why).
	Skipped []string `json:"skipped,omitempty"`
	// Started are the services started again.
	Started []string `json:"started,omitempty"`
	// Recreated are the services recreated from the restored compose files (they described
	// them otherwise than their containers), on the images the backup recorded.
	Recreated []Recreated `json:"recreated,omitempty"`
	// FileEdits are the edits that made the restored files name the image a recreated
	// service runs (the backup's files named another than its container ran).
	FileEdits []FileEdit `json:"file_edits,omitempty"`
	// WorkingDir is the project directory (the edits' files are described from it).
	WorkingDir string `json:"-"`
	// Warnings are what the restore could not do as asked but did not fail for.
	Warnings []string `json:"warnings,omitempty"`
	// DataPath is how the data moved: "host", "helper container (linux/ARCH)" or
	// "archive API: <why>", "; "-joined when moves took several; "" when no data moved.
	DataPath string `json:"data_path,omitempty"`
	// DryRun: nothing was changed; Plan says what the restore would do.
	DryRun bool `json:"dry_run,omitempty"`
	// Plan is what a --dry-run restore would do (nil otherwise).
	Plan *RestorePlan `json:"plan,omitempty"`
}

// RestorePlan is what a restore or rollback would do, worked out as the real one works it
// out before anything stops (restore and rollback --dry-run): nothing was changed.
type RestorePlan struct {
	// Stop are the services that run now: stopped first, started again after.
	Stop []string `json:"stop"`
	// Write are the backup's sources that would be written, each with where it goes.
	Write []PlannedWrite `json:"write"`
	// SafetyBackup: a safety backup of what is overwritten would be taken first
	// (reason pre-restore or pre-rollback); false with --no-safety-backup.
	SafetyBackup bool `json:"safety_backup"`
	// Images are the images the services would run again (rollback: re-pinned by ID).
	Images []ImageChange `json:"images,omitempty"`
	// Phases are the phases the real run would go through, in order (skipped ones say why).
	Phases []PlannedPhase `json:"phases"`
}

// PlannedWrite is one source a restore or rollback would write.
type PlannedWrite struct {
	// Source is the backup's source name (as backups list them).
	Source string `json:"source"`
	// Kind is the source's kind (volume, bind-dir, bind-file, project-file, ...).
	Kind string `json:"kind"`
	// Target is where it goes: the volume's name or the host path.
	Target string `json:"target"`
}

// Recreated is a service a command recreated, and why.
type Recreated struct {
	// Service recreated.
	Service string `json:"service"`
	// Why it was recreated.
	Why string `json:"why"`
	// Image is the reference it runs now.
	Image string `json:"image,omitempty"`
}

// FileEdit is one minimal edit of a compose or env file: the bytes Old at
// File:Line:Column become New.
type FileEdit struct {
	// Services whose image reference the edit changes.
	Services []string `json:"services"`
	// File edited (absolute).
	File string `json:"file"`
	// Line and Column (1-based, in runes) of Old in File.
	Line   int `json:"line"`
	Column int `json:"column"`
	// What is edited: "image" (the reference in the compose file), "variable NAME" (its
	// value in an env file) or "default of NAME" (in the compose file).
	What string `json:"what"`
	// Old is the text replaced, New the text written.
	Old string `json:"old"`
	New string `json:"new"`
	// OldRef and NewRef are the image references before and after.
	OldRef string `json:"old_ref"`
	NewRef string `json:"new_ref"`
	// Offset is the byte offset of Old in File: where applying the edit writes (not in
	// JSON; an edit read back from JSON cannot be applied).
	Offset int `json:"-"`
}

// Describe is a one-line human form, the file relative to dir when it lies under it:
// "compose.yaml:9: bot image repo:1.0.0 -> repo:2.0.0" or
// ".env:1: BOT_VERSION 1.0.0 -> 2.0.0 (image of bot: repo:1.0.0 -> repo:2.0.0)".
func (e FileEdit) Describe(dir string) string {
	f := e.File
	if dir != "" {
		if rel, err := filepath.Rel(dir, f); err == nil && !strings.HasPrefix(rel, "..") {
			f = rel
		}
	}
	svcs := strings.Join(e.Services, ", ")
	if e.What == "image" {
		return fmt.Sprintf("%s:%d: %s image %s -> %s", f, e.Line, svcs, e.Old, e.New)
	}
	return fmt.Sprintf("%s:%d: %s %q -> %q (image of %s: %s -> %s)", f, e.Line, e.What, e.Old, e.New, svcs, e.OldRef, e.NewRef)
}
