package api

import "time"

// PruneOptions select what Prune removes; the engine side takes them as they are and
// ignores Scope.
type PruneOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
	// Keep is how many newest complete backups to keep besides those kept by a rule
	// (default 5 when Policy is empty; with a Policy, 0 keeps none by this count).
	Keep int
	// Policy keeps backups by time buckets, as restic's forget does (--keep-last,
	// --keep-daily, ...); empty: only Keep counts.
	Policy KeepPolicy
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

// KeepPolicy is a retention policy by time buckets with restic's semantics
// (retention.ApplyPolicy): of each hour, day, ISO week (Monday to Sunday), month or year
// that has backups, the newest is kept, for the N newest such buckets; Last keeps the N
// newest backups whatever their time; Within keeps every backup made within that long of
// the newest one. A count of -1 keeps every bucket. The buckets are those of a backup's
// time in the local time zone of the host running prune (TZ).
type KeepPolicy struct {
	// Last keeps the N newest backups.
	Last int `json:"last,omitempty"`
	// Hourly keeps the newest backup of each of the N newest hours with backups.
	Hourly int `json:"hourly,omitempty"`
	// Daily keeps the newest backup of each of the N newest days with backups.
	Daily int `json:"daily,omitempty"`
	// Weekly keeps the newest backup of each of the N newest ISO weeks with backups.
	Weekly int `json:"weekly,omitempty"`
	// Monthly keeps the newest backup of each of the N newest months with backups.
	Monthly int `json:"monthly,omitempty"`
	// Yearly keeps the newest backup of each of the N newest years with backups.
	Yearly int `json:"yearly,omitempty"`
	// Within keeps every backup made within this long of the newest one (not counting
	// backups dated in the future).
	Within time.Duration `json:"within,omitempty"`
}

// Empty tells whether the policy keeps nothing by itself (every rule 0).
func (p KeepPolicy) Empty() bool { return p == KeepPolicy{} }

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
	// Remote is what the same policy removed and kept on the remote (--remote).
	Remote *PruneResult `json:"remote,omitempty"`
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
	// Time is when the backup was made (zero: unknown).
	Time time.Time `json:"time,omitzero"`
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
	KeptBase        = "base"         // a kept backup's incremental sources build on it (or refer to its files)
	KeptPolicy      = "policy"       // kept by a --keep-last/-hourly/-daily/-weekly/-monthly/-yearly/-within rule (Reasons says which)
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
	// Reasons are every reason it was kept, short, the rule's first: "needed by rollback",
	// "last 3", "daily 2026-12-01", "weekly 2026-W49", "within 30d" (a backup kept by
	// several rules lists each).
	Reasons []string `json:"reasons"`
	// Time is when the backup was made (zero: unknown).
	Time time.Time `json:"time,omitzero"`
}
