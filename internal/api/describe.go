package api

// DescribeOptions select the project Describe reads.
type DescribeOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
}

// DescribeResult is what a project's compose files and its backup store say, read without
// the engine: what a face offers when it completes a command line (shell completion). It
// is not printed, so it has no JSON form.
type DescribeResult struct {
	// Project is the project's name: from the compose files, else the one Scope names
	// ("" when neither says).
	Project string
	// Services are the compose files' services, those of disabled profiles too, sorted.
	Services []string
	// Profiles are the profiles the services name, sorted.
	Profiles []string
	// Sources are the names of the project's volumes and bind-mounted directories as the
	// compose files declare them: the sources --reset-data can empty (single files,
	// project files and host paths are left out; so are anonymous volumes, which only
	// the engine's containers show).
	Sources []string
	// Backups are the project's backups in the store, newest first, made on any engine
	// (no engine is asked which is this one: Owner is empty).
	Backups []BackupRow
}
