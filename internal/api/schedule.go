package api

import "errors"

// ErrNoSchedule means the project has no docker-maim schedule to remove.
var ErrNoSchedule = errors.New("no docker-maim schedule")

// The ways a schedule is kept (ScheduleOptions.Via, Schedule.Via).
const (
	ViaAuto    = "auto"    // systemd when its manager answers, else cron
	ViaSystemd = "systemd" // a timer and a service unit
	ViaCron    = "cron"    // a line in the crontab, after a marker comment
)

// ScheduleOptions set, list or remove the schedule that runs `backup` then `prune` for a
// project.
type ScheduleOptions struct {
	// Scope selects the project (set, remove) and the backup store the runs use (set).
	Scope Scope
	// Action is "set", "list" or "remove".
	Action string
	// Via is ViaAuto, ViaSystemd or ViaCron.
	Via string
	// At is a daily time, "HH:MM" (set); OnCalendar a systemd calendar expression; Cron a
	// five-field cron expression. Exactly one is given to set.
	At, OnCalendar, Cron string
	// Keep and Policy are the prune flags each run passes (as PruneOptions'); zero and
	// empty: prune's own default.
	Keep   int
	Policy KeepPolicy
	// DryRun writes and runs nothing: the result says what would be written and run.
	DryRun bool
}

// ScheduleResult is what a schedule command did (or, with DryRun, would do).
type ScheduleResult struct {
	// Action is "set", "list" or "remove".
	Action string `json:"action"`
	// Schedules are the schedule written (set), found (list) or removed (remove).
	Schedules []Schedule `json:"schedules"`
	// Replaced: set replaced a schedule the project had (one per project).
	Replaced bool `json:"replaced,omitempty"`
	// Files are the unit files written or removed (or that would be).
	Files []ScheduleFile `json:"files,omitempty"`
	// Crontab is the whole new crontab, when it was (or would be) changed.
	Crontab *string `json:"crontab,omitempty"`
	// Commands are the commands run (Ran) or left for the user to run.
	Commands []ScheduleCommand `json:"commands,omitempty"`
	// Notes are what the user should know (a user timer that needs lingering, ...).
	Notes []string `json:"notes,omitempty"`
	// DryRun: nothing was written or run.
	DryRun bool `json:"dry_run"`
}

// Schedule is one project's schedule.
type Schedule struct {
	// Project is the compose project's name.
	Project string `json:"project"`
	// Via is "systemd" or "cron".
	Via string `json:"via"`
	// When is the timer's OnCalendar= or the cron line's five time fields.
	When string `json:"when"`
	// Unit is the systemd timer unit's name (systemd only).
	Unit string `json:"unit,omitempty"`
	// Command is the shell command a run executes.
	Command string `json:"command"`
	// Log is where a run's output goes: a file (cron), or "journal" (systemd).
	Log string `json:"log"`
}

// ScheduleFile is one unit file written or removed.
type ScheduleFile struct {
	// Path of the file.
	Path string `json:"path"`
	// Content written ("" when removed).
	Content string `json:"content,omitempty"`
	// Removed: the file was (or would be) removed.
	Removed bool `json:"removed,omitempty"`
}

// ScheduleCommand is one command the schedule needs run (systemctl, crontab).
type ScheduleCommand struct {
	// Args is the command line, program first.
	Args []string `json:"args"`
	// Ran: it was run (and succeeded); false: the user is to run it.
	Ran bool `json:"ran"`
}
