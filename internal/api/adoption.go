package api

// Adoption is what an upgrade --compose-file does with the project's compose files.
type Adoption struct {
	// Files are the merges, one per new compose file.
	Files []AdoptedFile `json:"files"`
	// ServicesAdded and ServicesRemoved are the services the new files add and drop.
	ServicesAdded   []string `json:"services_added"`
	ServicesRemoved []string `json:"services_removed"`
	// BindsMoved are the user's bind mounts the new files mount elsewhere or not at all.
	BindsMoved []BindMove `json:"binds_moved"`
	// NotMounted are the project's data sources the new files no longer mount: they are
	// in the upgrade's backup and stay on the host (never deleted).
	NotMounted []string `json:"not_mounted,omitempty"`
	// CreateSources are the bind sources the new files mount that do not exist yet: they
	// are created before the start, a single-file bind as an empty file (Docker would
	// create a directory).
	CreateSources []BindSource `json:"create_bind_sources,omitempty"`
	// VolumesChanged are the named volumes whose declaration the new files change while
	// the volume exists: breaking; never recreated.
	VolumesChanged []VolumeChange `json:"volumes_changed,omitempty"`
	// Warnings are what the plan's warnings gain (a two-way merge keeping services).
	Warnings []string `json:"-"`
	// MaiBot is set when the project is a MaiBot deployment.
	MaiBot *MaiBotMove `json:"maibot,omitempty"`
}

// AdoptedFile is the merge of one new compose file with the project's file it replaces.
type AdoptedFile struct {
	// File is the project's compose file the merged file replaces.
	File string `json:"file"`
	// From is where the release's file came from (a path; "-" for stdin).
	From string `json:"from"`
	// Base is where the release's previous file came from: "--base PATH", "backup ID"
	// (recorded by an earlier adoption), or "" for a two-way merge.
	Base string `json:"base,omitempty"`
	// Report says what the merge did.
	Report ComposeMergeReport `json:"report"`
	// Diff is the change of the file, user's to merged (secrets redacted unless --show-secrets).
	Diff string `json:"diff,omitempty"`
	// Merged are the merged file's bytes (written in place by the adopt phase) and
	// Upstream the release's file as given (kept in the backup); not in JSON.
	Merged   []byte `json:"-"`
	Upstream []byte `json:"-"`
}

// BindSource is a bind source the adoption creates.
type BindSource struct {
	// Path on the host.
	Path string `json:"path"`
	// Kind is "file" or "dir".
	Kind string `json:"kind"`
	// Why it is created as this kind.
	Why string `json:"why"`
}

// VolumeChange is a named volume whose declaration the adoption changes while a volume
// with the old one exists.
type VolumeChange struct {
	// Volume is the key under volumes:.
	Volume string `json:"volume"`
	// Name is the engine's volume.
	Name string `json:"name"`
	// What says what differs, e.g. "driver local -> nfs", "driver_opts".
	What []string `json:"what"`
}

// MaiBotMove is what the plan found of a MaiBot deployment.
type MaiBotMove struct {
	// Core is the service of the MaiBot core.
	Core string `json:"core"`
	// FromEra and ToEra are the MaiBot eras (0.x, 1.x) of the old and new images.
	FromEra string `json:"from_era,omitempty"`
	ToEra   string `json:"to_era,omitempty"`
	// Confirmed: the core's environment in the merged file confirms the 0.x -> 1.x move.
	Confirmed bool `json:"confirmed,omitempty"`
	// LostAgreements are agreement variables the user's core had that the merged one lacks.
	LostAgreements []string `json:"lost_agreements,omitempty"`
	// DBSchema is MaiBot.db's user_version now (-1: no database found).
	DBSchema int32 `json:"db_schema"`
	// ConfigVersions are each config file's [inner].version now.
	ConfigVersions map[string]string `json:"config_versions,omitempty"`
	// ReadyLog is the beginning of the zh-CN ready banner, for the plan; the gate waits for
	// the banner of the new image's own catalog in the core's locale.
	ReadyLog string `json:"ready_log,omitempty"`
	// NoTemplates: the new image is 1.x: no template merge (the bot migrates its config).
	NoTemplates bool `json:"no_templates,omitempty"`
}

// MaiBot's eras (MaiBotMove.FromEra, ToEra) and the variable that confirms the move from
// 0.x to 1.x in the core's environment: internal/maibot's values.
const (
	MaiBotEra0x            = "0.x"
	MaiBotEra1x            = "1.x"
	MaiBotLegacyUpgradeVar = "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED"
)

// ComposeMergeReport is what the merge of a release's compose file with the user's did.
type ComposeMergeReport struct {
	// Mode is "three-way" or "two-way".
	Mode string `json:"mode"`
	// Changes are the rules the merge applied, one per key.
	Changes []ComposeMergeChange `json:"changes"`
	// Conflicts counts the changes that are conflicts.
	Conflicts int `json:"conflicts"`
	// ServicesAdded are in the result, not in the user's file; ServicesRemoved the reverse.
	ServicesAdded   []string `json:"services_added"`
	ServicesRemoved []string `json:"services_removed"`
	// BindsMoved are the user's bind mounts the result mounts elsewhere or not at all.
	BindsMoved []BindMove `json:"binds_moved"`
}

// LayoutChanged tells whether the result removes services or moves binds: a compose-file
// swap that counts as breaking.
func (r ComposeMergeReport) LayoutChanged() bool {
	return len(r.ServicesRemoved) > 0 || len(r.BindsMoved) > 0
}

// ComposeMergeChange is one rule a compose-file merge applied.
type ComposeMergeChange struct {
	// Service is "" for a top-level key.
	Service string `json:"service,omitempty"`
	// Path of the key, e.g. "environment.TZ", "ports[8001/tcp]", "volumes[/MaiMBot/data]", "image".
	Path string `json:"path"`
	// Rule applied (composemerge's Rule* constants).
	Rule string `json:"rule"`
	// Old is upstream's value before the rule ("" when absent).
	Old string `json:"old,omitempty"`
	// New is the value in the result ("" when removed).
	New string `json:"new,omitempty"`
	// User is the user's value, where it differs from New (a conflict, a dropped key).
	User string `json:"user,omitempty"`
	// Conflict: both sides changed the value differently.
	Conflict bool `json:"conflict,omitempty"`
	// Redacted: Old/New/User are or hold a redacted value (the key or the value looks secret).
	Redacted bool `json:"redacted,omitempty"`
}

// BindMove is a bind mount of the user's file that the result mounts elsewhere or not at all.
type BindMove struct {
	// Service that mounts it.
	Service string `json:"service"`
	// Target is the container path in the user's file.
	Target string `json:"target"`
	// OldSource is the host source in the user's file.
	OldSource string `json:"old_source"`
	// NewSource is the source now mounted at Target ("" when Unmounted).
	NewSource string `json:"new_source,omitempty"`
	// Unmounted: no service of the result mounts OldSource any more (the data stays on the host).
	Unmounted bool `json:"unmounted,omitempty"`
}
