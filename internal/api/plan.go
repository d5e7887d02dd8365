package api

import (
	"strings"
	"time"
)

// Plan is what an upgrade will do, worked out before anything stops.
type Plan struct {
	// Project is the compose project's name.
	Project string `json:"project"`
	// Created is when the plan was made (UTC).
	Created time.Time `json:"created"`
	// Changes are every service's image before and after.
	Changes []ImageChange `json:"services"`
	// Breaking are the reasons the upgrade is breaking (refused without AcceptBreaking).
	Breaking []Finding `json:"breaking"`
	// Databases are the database services whose image changes, with the data's version and
	// what the upgrade does about it; a refused one stops the upgrade (database.go).
	Databases []Database `json:"databases,omitempty"`
	// Sources are the data sources the backup archives, with their estimated sizes.
	Sources []SourceSize `json:"sources"`
	// Merges are the planned config merges.
	Merges []MergeInfo `json:"config_merges"`
	// ResetData are the sources emptied once they are in the backup (--reset-data).
	ResetData []string `json:"reset_data,omitempty"`
	// BackupBytes is the estimated size of the backup: an upper bound, each source taken
	// as an increment counted by what its increment can hold (SourceSize.Estimate).
	BackupBytes int64 `json:"estimated_backup_bytes"`
	// FullBackupBytes is the sources' full size, what BackupBytes would be were every
	// source taken whole (differs when some are increments).
	FullBackupBytes int64 `json:"full_backup_bytes,omitempty"`
	// FreeBytes is the free space where the backup goes.
	FreeBytes int64 `json:"free_bytes"`
	// Downtime is a rough expectation: stop, back up (at a measured-order rate), recreate.
	Downtime time.Duration `json:"expected_downtime_ns"`
	// NothingToDo: no service's image changes (and no --force, --compose-file).
	NothingToDo bool `json:"nothing_to_do"`
	// FileEdits are the minimal edits of the compose or env files that make them name the
	// --image targets; they are written after the backup, which keeps the files before them.
	FileEdits []FileEdit `json:"file_edits,omitempty"`
	// Warnings are what the upgrade will not do as one might expect.
	Warnings []string `json:"warnings,omitempty"`
	// PreStart are the pre_start hooks of the services recreated: one that fails fails
	// the upgrade.
	PreStart []string `json:"pre_start_hooks,omitempty"`
	// ServiceHooks are the commands run inside the services' containers, the services
	// archived only stopped and the logical dumps asked for (lifecycle labels, x-maim).
	ServiceHooks *ServiceHooks `json:"service_hooks,omitempty"`
	// Adoption is what --compose-file does: the merge of each new file with the user's,
	// the services that appear and disappear, the binds that move.
	Adoption *Adoption `json:"adoption,omitempty"`
	// Phases are the upgrade's phases after the plan, in order, with what each will do
	// (skipped ones say why): what --dry-run lists and the upgrade runs.
	Phases []PlannedPhase `json:"phases,omitempty"`
	// Notify are the notification targets told how the upgrade ends, redacted to their
	// scheme and host ("discord://123456", "generic://hooks.example.com").
	Notify []string `json:"notify,omitempty"`
}

// PlannedPhase is a phase as --dry-run lists it (Plan.Phases).
type PlannedPhase struct {
	// Name of the phase (backup-hot, stop, backup, ..., commit).
	Name string `json:"name"`
	// Description says what it will do (empty when skipped).
	Description string `json:"description"`
	// Skipped: the phase does not apply.
	Skipped bool `json:"skipped,omitempty"`
	// Reason says why a skipped phase does not apply.
	Reason string `json:"reason,omitempty"`
}

// ImageChange is one service's image before and after.
type ImageChange struct {
	// Service is the compose service.
	Service string `json:"service"`
	// OldRef, OldID, OldDigests, OldVersion: the image it runs now (reference, ID, repo
	// digests, OCI version label).
	OldRef     string   `json:"old_ref"`
	OldID      string   `json:"old_id,omitempty"`
	OldDigests []string `json:"old_digests,omitempty"`
	OldVersion string   `json:"old_version,omitempty"`
	// NewRef, NewID, NewDigests, NewVersion: the image it will run.
	NewRef     string   `json:"new_ref"`
	NewID      string   `json:"new_id,omitempty"`
	NewDigests []string `json:"new_digests,omitempty"`
	NewVersion string   `json:"new_version,omitempty"`
	// NewLabels are the labels of the new image (breaking-change declarations live there).
	NewLabels map[string]string `json:"-"`
	// Pin is the local tag that keeps the old image.
	Pin string `json:"pin,omitempty"`
}

// Changed tells whether the service will run another image.
func (c ImageChange) Changed() bool { return c.NewID != "" && c.NewID != c.OldID }

// From and To are short human forms ("ref (version)").
func (c ImageChange) From() string { return refVersion(c.OldRef, c.OldVersion) }
func (c ImageChange) To() string   { return refVersion(c.NewRef, c.NewVersion) }

func refVersion(ref, v string) string {
	if v == "" || strings.HasSuffix(ref, ":"+v) {
		return ref
	}
	return ref + " (" + v + ")"
}

// Finding is one reason an upgrade is breaking.
type Finding struct {
	// Service it concerns (or what else: "compose file", "volume NAME").
	Service string `json:"service"`
	// Reason the change is breaking.
	Reason string `json:"reason"`
	// Notes is where to read about it (a URL).
	Notes string `json:"notes,omitempty"`
}

func (f Finding) String() string {
	s := f.Service + ": " + f.Reason
	if f.Notes != "" {
		s += " (notes: " + f.Notes + ")"
	}
	return s
}

// SourceSize is a data source with its estimated size.
type SourceSize struct {
	// Name of the source.
	Name string `json:"name"`
	// Kind of source.
	Kind SourceKind `json:"kind"`
	// Bytes is the estimated size (-1: unknown).
	Bytes int64 `json:"bytes"`
	// Policy is the source's backup policy (always, changed, never; "" for a host path).
	Policy SourcePolicy `json:"policy,omitempty"`
	// NotBackedUp says why a host path is left out ("not backed up: host path (socket)").
	NotBackedUp string `json:"not_backed_up,omitempty"`
	// IncrementOf is the ID of the backup the source's increment builds on ("": taken
	// whole); IncrementBytes then bounds what the increment writes (the content of the
	// files that changed since, their headers and the index).
	IncrementOf    string `json:"increment_of,omitempty"`
	IncrementBytes int64  `json:"increment_bytes,omitempty"`
	// Whole says why a source that could be an increment is counted whole ("--full", no
	// usable base, an increment that could not be measured).
	Whole string `json:"whole,omitempty"`
}

// Estimate is what the backup can write of the source at most: IncrementBytes for an
// increment, else Bytes (-1: unknown).
func (s SourceSize) Estimate() int64 {
	if s.IncrementOf != "" {
		return s.IncrementBytes
	}
	return s.Bytes
}

// SourceKind is what kind of data source a source is: volume, anonymous-volume,
// bind-dir, bind-file, project-file or host-path (internal/project's Kind* constants).
type SourceKind string

// MergeInfo is a planned config merge.
type MergeInfo struct {
	// File is the config file in use (on the host).
	File string `json:"file"`
	// Service whose mount holds it.
	Service string `json:"service,omitempty"`
	// Template is the new version's template it is merged into.
	Template string `json:"template"`
	// Action is "merge", or "copy-template" when there is no file in use yet.
	Action string `json:"action"`
	// Changed: the merged file differs from the file in use.
	Changed bool `json:"changed"`
	// Report says what the merge changes.
	Report ConfigReport `json:"report"`
	// Diff is the change of the file (secrets redacted unless ShowSecrets).
	Diff string `json:"diff,omitempty"`
}
