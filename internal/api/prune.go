package api

import "time"

// PruneOptions select what Prune removes; the engine side takes them as they are and
// ignores Scope.
type PruneOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
	// Keep is how many newest complete backups to keep besides those kept by a rule
	// (default 5).
	Keep int
	// OlderThan only removes backups older than this (0: any age).
	OlderThan time.Duration
	// IncludeUnreadable also removes backups whose manifest cannot be read (one written
	// by a newer docker-maim, a torn or unreadable manifest.json). Without it they stay.
	IncludeUnreadable bool
	// IncludeUnrecorded also treats as this engine's the backups whose manifest records no
	// origin (made by a docker-maim from before origins were recorded). Without it they
	// stay: they may be another engine's, whose journal and history prune cannot see.
	IncludeUnrecorded bool
	// DryRun only says what would be removed.
	DryRun bool
}

// PruneResult is what prune removed (or would remove) and what it kept.
type PruneResult struct {
	// Project is the compose project's name.
	Project string `json:"project"`
	// Removed are the backups removed (or, with DryRun, that would be).
	Removed []Pruned `json:"removed"`
	// Kept are the backups left, each with the rule that kept it.
	Kept []Kept `json:"kept"`
	// DryRun: nothing was removed.
	DryRun bool `json:"dry_run"`
	// FreedBytes is the archive bytes the removed backups held (would hold, with DryRun).
	FreedBytes int64 `json:"freed_bytes"`
}

// Pruned is one removed backup.
type Pruned struct {
	// ID of the backup.
	ID string `json:"id"`
	// Status it had: complete, incomplete, corrupt.
	Status string `json:"status"`
	// Reason is the manifest's reason ("" when unreadable).
	Reason string `json:"reason,omitempty"`
	// Size is the archive bytes freed.
	Size int64 `json:"size"`
	// Pins is how many image pins were removed with it (with DryRun: would be).
	Pins int `json:"pins_removed"`
}

// Why a backup was kept (Kept.Rule).
const (
	KeptNewest      = "newest"       // one of the --keep newest complete backups
	KeptLastUpgrade = "last-upgrade" // the backup `rollback` with no ID goes back to
	KeptJournal     = "journal"      // an interrupted operation needs it
	KeptUnreadable  = "unreadable"   // its manifest cannot be read (--include-unreadable removes it)
	KeptYoung       = "younger"      // younger than --older-than
	KeptOtherUser   = "other-user"   // made on this engine by another user: theirs to prune
	KeptUnrecorded  = "unrecorded"   // made by an older build that did not record its engine (--include-unrecorded removes it)
)

// Kept is one backup prune left, and why.
type Kept struct {
	// ID of the backup.
	ID string `json:"id"`
	// Status it has: complete, incomplete, corrupt.
	Status string `json:"status"`
	// Reason is the manifest's reason.
	Reason string `json:"reason,omitempty"`
	// Rule is one of the Kept* constants.
	Rule string `json:"rule"`
	// Why is the rule in words.
	Why string `json:"why"`
}
