// Package app is docker-maim's application layer: the implementation of api.Service, every
// verb the tool offers (Backup, Backups, Verify, Restore, Upgrade, Rollback, Status, Prune,
// MergeConfig, Projects) on the engine and compose settings of a docker CLI.
//
// It owns the wiring a verb needs — the engine client (checked once with a ping), the
// compose SDK service, the backup store, the project lock, progress reporting and project
// resolution — built once per Service and shared by its calls. The work itself stays in
// the packages it calls (snapshot, upgrade, backup, project, config), which take the
// verb's api options as they are and return its api result types. Status is answered
// here (status.go): it only reads the engine, the journal and history, the store and the
// app versions. Detach and Attach are here too (detach.go, follow.go): a long verb's command
// line run again in a session of its own, writing its progress and result into the
// project's state dir, and the follower that replays them.
//
// A face (the CLI in internal/plugin, a Docker Desktop extension) gets a Service from New,
// parses its input into api options, calls the Service, and presents the result; it needs
// no engine or compose client of its own, and imports only internal/api of docker-maim.
// The errors returned here wrap api's error kinds (api.ErrEngine, api.ErrLocked,
// api.ErrNotProject, api.ErrInterrupted, *api.UpgradeError, *api.VerifyError, ...), by
// which faces map errors to exit codes.
package app
