package api

import "time"

// The moments a service command runs (ServiceCommand.When).
const (
	// HookPreBackup runs inside the running container before its data is archived (a
	// backup, or the upgrade's backup); offen's docker-volume-backup.archive-pre.
	HookPreBackup = "pre-backup"
	// HookPostBackup runs inside the running container once its data is archived (the
	// backup verb: after the services are started again; an upgrade: in the new container
	// after the health gate); offen's docker-volume-backup.archive-post.
	HookPostBackup = "post-backup"
	// HookPreUpgrade runs inside the running container before the upgrade's backup, before
	// anything stops; watchtower's lifecycle.pre-update.
	HookPreUpgrade = "pre-upgrade"
	// HookPostUpgrade runs inside the new container once the health gate passed; a failure
	// is a failed gate (rolled back); watchtower's lifecycle.post-update.
	HookPostUpgrade = "post-upgrade"
)

// ServiceCommand is a command docker-maim runs inside each running container of a
// service (`/bin/sh -c COMMAND` through the engine's exec API), declared by a lifecycle
// label users already have (offen/docker-volume-backup, watchtower) or by the service's
// x-maim keys. The plan lists every one.
type ServiceCommand struct {
	// Service is the compose service whose containers run it.
	Service string `json:"service"`
	// When is one of HookPreBackup, HookPostBackup, HookPreUpgrade, HookPostUpgrade.
	When string `json:"when"`
	// Command is run as `/bin/sh -c COMMAND`.
	Command string `json:"command"`
	// User runs it ("" is the container's own user).
	User string `json:"user,omitempty"`
	// Timeout: the command is killed after it, and counts as failed.
	Timeout time.Duration `json:"timeout_ns"`
	// From is where it was declared: a label's name or the x-maim key.
	From string `json:"from"`
}

// DumpRequest is a logical database dump a service asks for (stack-back.postgres,
// stack-back.mysql, stack-back.mariadb, x-maim dump, or backup --dump): the backup verb
// and the upgrade take it in the service's running container before anything stops
// (internal/dbdump), into an archive of the backup (backup.Manifest.Dumps).
type DumpRequest struct {
	// Service is the compose service of the database.
	Service string `json:"service"`
	// Kind is postgres, mysql or mariadb (mongo from the x-maim dump key).
	Kind string `json:"kind"`
	// From is the label or x-maim key that asks for it.
	From string `json:"from"`
	// Supported is true when the operation takes the dump (the backup verb and the upgrade
	// do; false only where a dump is listed but not taken).
	Supported bool `json:"supported"`
}

// ServiceHooks is what a project's lifecycle labels and x-maim keys ask docker-maim to
// do around a backup and an upgrade, as the plan lists it.
type ServiceHooks struct {
	// Commands are the service commands, by service then moment.
	Commands []ServiceCommand `json:"commands,omitempty"`
	// StopDuringBackup are the services whose data is archived only while they are
	// stopped: no hot pass for the sources they mount.
	StopDuringBackup []string `json:"stop_during_backup,omitempty"`
	// Dumps are the logical dumps asked for.
	Dumps []DumpRequest `json:"dumps_requested,omitempty"`
	// Ignored are lifecycle labels docker-maim does not act on (label: why).
	Ignored []string `json:"ignored_labels,omitempty"`
}

// Empty tells whether nothing is asked for (and nothing ignored).
func (h *ServiceHooks) Empty() bool {
	return h == nil || (len(h.Commands) == 0 && len(h.StopDuringBackup) == 0 && len(h.Dumps) == 0 && len(h.Ignored) == 0)
}
