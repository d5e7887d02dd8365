package api

import (
	"fmt"
	"strings"
	"time"
)

// Compression names a stream codec wrapped around a backup's tar archives.
type Compression string

// The supported codecs.
const (
	Zstd Compression = "zstd"
	Gzip Compression = "gzip"
	None Compression = "none"
)

// ParseCompression accepts "zstd", "gzip" (or "gz"), "none" (or "" / "tar").
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "zstd", "zst":
		return Zstd, nil
	case "gzip", "gz":
		return Gzip, nil
	case "none", "tar", "":
		return None, nil
	}
	return "", fmt.Errorf("unknown compression %q (want zstd, gzip or none)", s)
}

// Ext returns the file name extension of an archive with this codec.
func (c Compression) Ext() string {
	switch c {
	case Zstd:
		return ".tar.zst"
	case Gzip:
		return ".tar.gz"
	}
	return ".tar"
}

// CheckLevel refuses a compression level the codec does not have; 0 is every codec's
// default. zstd takes the zstd command line's 1-22, gzip 1-9, none only 0.
func (c Compression) CheckLevel(level int) error {
	max := 0
	switch c {
	case Zstd, "":
		max = 22
	case Gzip:
		max = 9
	}
	if level < 0 || level > max {
		if max == 0 {
			return fmt.Errorf("--level %d: compression %s has no levels", level, c)
		}
		return fmt.Errorf("--level %d: %s levels are 1 to %d (0: its default)", level, c, max)
	}
	return nil
}

// BackupOptions tune Backup.
type BackupOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
	// Excludes are paths (patterns relative to each source) left out of the archives.
	Excludes []string
	// NoStop archives while the services run (hot backup; may be inconsistent).
	NoStop bool
	// OnePass archives everything with the services stopped (the old way); by default a
	// backup of running services is two-pass: a hot copy first, then only what changed
	// since, stopped (the downtime does not grow with the data).
	OnePass bool
	// Compression of the archives ("" is zstd).
	Compression Compression
	// Level is the compression level (0: the codec's default).
	Level int
	// IncludeHostPaths are bind sources backed up although they belong to the host.
	IncludeHostPaths []string
	// Notify says where and when to send how the backup ended.
	Notify NotifyOptions
	// Dumps are services whose database is dumped (pg_dumpall, mariadb-dump, mysqldump
	// inside its running container) beside the file archives, before anything stops, as
	// stack-back's labels and the x-maim dump key ask too.
	Dumps []string
	// SourcePolicies set sources' backup policies (--source-policy NAME=POLICY), over what
	// the compose file sets. A manual backup takes a never source all the same.
	SourcePolicies map[string]SourcePolicy
	// ExcludeSources are sources left out of this backup (--exclude-source NAME).
	ExcludeSources []string
	// Full takes every source whole (--full), not incrementally from the last backup.
	Full bool
	// MaxDeltas is how many incremental backups of a source follow a full one
	// (--max-deltas; 0: 7).
	MaxDeltas int
	// Encrypt says whom the backup is sealed to and whether the local copy is too.
	Encrypt EncryptOptions
}

// EncryptOptions say whom a backup's archives are sealed to, with age: always the copies
// that leave the host (a remote), and the local archives when Local is set.
type EncryptOptions struct {
	// To are the recipients (--encrypt-to; empty: MAIM_AGE_RECIPIENTS, read by app): age
	// public keys (age1...), SSH public keys (ssh-ed25519, ssh-rsa), or recipients files
	// ("@FILE" or a path, one recipient a line, as `age -R` reads them).
	To []string
	// Local seals the local archives too (--encrypt-local); the manifest stays plaintext.
	Local bool
}

// BackupResult says what Backup stored.
type BackupResult struct {
	// ID of the backup in the store.
	ID string `json:"id"`
	// Project is the compose project's name.
	Project string `json:"project"`
	// Reason is why the backup was made ("manual" for the backup verb).
	Reason string `json:"reason"`
	// Time the backup was made.
	Time time.Time `json:"time"`
	// Dir is the backup's directory in the store.
	Dir string `json:"dir"`
	// Sources are every archived source.
	Sources []BackupSource `json:"sources"`
	// Bytes are the content bytes, uncompressed.
	Bytes int64 `json:"bytes"`
	// Size is the archive bytes.
	Size int64 `json:"size"`
	// Duration is how long the backup took (nanoseconds in JSON).
	Duration time.Duration `json:"duration_ns"`
	// Downtime is how long the services were stopped (0 when nothing was stopped).
	Downtime time.Duration `json:"downtime_ns,omitempty"`
	// TwoPass says the backup was two-pass (a hot copy and the changes since, stopped).
	TwoPass bool `json:"two_pass,omitempty"`
	// Stopped are the services stopped for the backup and started again after it (what ran
	// right before the stop), in start order; StoppedOneOffs the service of each one-off
	// container (`docker compose run`) stopped and started again with them. Both empty
	// with --no-stop.
	Stopped        []string `json:"stopped"`
	StoppedOneOffs []string `json:"stopped_one_offs,omitempty"`
	// Remote says how each backup this verb made was copied to the remote (--remote);
	// empty without one.
	Remote []RemoteCopy `json:"remote,omitempty"`
	// NotBackedUp are the host paths left out (never restored either).
	NotBackedUp []HostPath `json:"not_backed_up"`
	// LeftOut are the data sources left out on purpose (--exclude-source), each "NAME: why".
	LeftOut []string `json:"left_out,omitempty"`
	// Encrypted says the local archives are sealed with age (--encrypt-local).
	Encrypted bool `json:"encrypted,omitempty"`
	// Dumps are the logical database dumps taken beside the archives, before the stop.
	Dumps []BackupDump `json:"dumps,omitempty"`
	// DataPath is how the data moved: "host", "helper container (linux/ARCH)" or
	// "archive API: <why>", "; "-joined when moves took several; "" when no data moved.
	DataPath string `json:"data_path,omitempty"`
}

// BackupSource is one archived source of a backup.
type BackupSource struct {
	// Name of the source (a volume's, a bind's path, a project file's).
	Name string `json:"name"`
	// Kind of source: volume, anonymous-volume, bind-dir, bind-file, project-file, host-path.
	Kind string `json:"kind"`
	// Bytes are the content bytes.
	Bytes int64 `json:"bytes"`
	// Size is the archive bytes.
	Size int64 `json:"size"`
	// Files is how many files the archive holds.
	Files int64 `json:"files"`
	// OnePass says why a source of a two-pass backup was archived once, stopped.
	OnePass string `json:"one_pass,omitempty"`
	// Policy is the source's backup policy (always, changed, never).
	Policy SourcePolicy `json:"policy,omitempty"`
	// Base is the backup this source builds on: an incremental source holds only what
	// changed since Base (the restore applies the chain), a changed-policy source that did
	// not change references Base's archives (Reused); "" for a source held whole.
	Base string `json:"base,omitempty"`
	// Reused: the source did not change since Base; its archives are Base's, nothing new.
	Reused bool `json:"reused,omitempty"`
	// Full says why an incremental source was taken whole ("" when it was not, or was
	// never meant to be incremental).
	Full string `json:"full,omitempty"`
}

// BackupDump is one logical database dump of a backup: an archive of its own holding the
// output of the database's own tool, compressed, hashed in the manifest.
type BackupDump struct {
	// Service whose running container was dumped.
	Service string `json:"service"`
	// Engine is the database: postgresql, mariadb or mysql.
	Engine string `json:"engine"`
	// Command is the tool and its arguments as run (never a password).
	Command string `json:"command"`
	// Archive is the dump's file in the backup (dump-SERVICE.sql.zst; MongoDB's
	// dump-SERVICE.archive.zst).
	Archive string `json:"archive"`
	// Bytes is the dump's size uncompressed.
	Bytes int64 `json:"bytes"`
	// Size is the archive bytes.
	Size int64 `json:"size"`
}

// HostPath is a bind source left out of a backup because it belongs to the host.
type HostPath struct {
	// Name of the source.
	Name string `json:"name"`
	// HostPath is the bind's source on the host.
	HostPath string `json:"host_path"`
	// Why it is left out ("host path (socket)", ...).
	Why string `json:"why"`
}

// BackupsOptions select the project whose backups Backups lists.
type BackupsOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
	// AllEngines lists the backups other engines keep in the same backup dir too (by
	// default only this engine's, other users' on it, and those whose engine is unknown).
	AllEngines bool
}

// BackupsResult lists a project's backups, newest first.
type BackupsResult struct {
	// Project is the compose project's name.
	Project string `json:"project"`
	// Backups, newest first.
	Backups []BackupRow `json:"backups"`
}

// BackupStatus says whether a backup of the store is whole.
type BackupStatus string

const (
	StatusComplete   BackupStatus = "complete"   // manifest present and every archive has its recorded size
	StatusIncomplete BackupStatus = "incomplete" // no manifest: interrupted while writing
	StatusCorrupt    BackupStatus = "corrupt"    // manifest unreadable, or an archive missing or of the wrong size
)

// BackupOwner says whose a listed backup is, seen from the engine and user listing it.
type BackupOwner string

const (
	// OwnerThis: made on this engine by this user (or the store has no Origin: it treats
	// every backup as its own).
	OwnerThis BackupOwner = "this"
	// OwnerOtherUser: made on this engine by another user (root's cron beside the user).
	// The same project's data, so selections without an ID consider it; prune leaves it
	// to its user, whose journal and history say whether it is still needed.
	OwnerOtherUser BackupOwner = "other-user"
	// OwnerOtherEngine: made on another engine. Listings leave it out; only an explicit
	// ID (or AllEngines) reaches it.
	OwnerOtherEngine BackupOwner = "other-engine"
	// OwnerUnrecorded: its manifest records no origin (written by a docker-maim from
	// before origins were recorded): it may be any engine's. Listed, picked only by ID
	// (or when this engine's own journal or history names it), never pruned unless asked.
	OwnerUnrecorded BackupOwner = "unrecorded"
	// OwnerUnknown: no readable manifest (incomplete, unreadable).
	OwnerUnknown BackupOwner = "unknown"
)

// SameEngine tells whether the backup was recorded as made on the listing engine.
func (o BackupOwner) SameEngine() bool { return o == OwnerThis || o == OwnerOtherUser }

// BackupRow is one backup of the store, complete or not.
type BackupRow struct {
	// ID of the backup.
	ID string `json:"id"`
	// Project the backup is of (absent when the manifest cannot be read).
	Project string `json:"project,omitempty"`
	// Time it was made.
	Time time.Time `json:"time,omitzero"`
	// Reason it was made: manual, upgrade, pre-restore, pre-rollback.
	Reason string `json:"reason,omitempty"`
	// Size is the archive bytes the backup's own directory holds.
	Size int64 `json:"size"`
	// Referenced is the archive bytes of other backups it needs: the earlier links of its
	// incremental sources' chains and the files of its unchanged sources (Bases names them).
	Referenced int64 `json:"referenced_size,omitempty"`
	// Bases are the backups it builds on directly (prune keeps them while it stays).
	Bases []string `json:"bases,omitempty"`
	// Bytes are the content bytes.
	Bytes int64 `json:"bytes"`
	// Sources are the names of the archived sources.
	Sources []string `json:"sources"`
	// Dumps are the services whose database was dumped into the backup (BackupDump).
	Dumps []string `json:"dumps,omitempty"`
	// Encrypted says the backup's archives are sealed with age (restoring needs an identity).
	Encrypted bool `json:"encrypted,omitempty"`
	// Status: complete, incomplete, corrupt.
	Status BackupStatus `json:"status"`
	// Problem says what is wrong with a backup that is not complete.
	Problem string `json:"problem,omitempty"`
	// ToolVersion is the docker-maim that made it.
	ToolVersion string `json:"tool_version,omitempty"`
	// Dir is the backup's directory in the store.
	Dir string `json:"dir"`
	// AppVersions are the application's data and config versions the backup recorded
	// (MaiBot's database schema and configs' [inner].version).
	AppVersions map[string]string `json:"app_versions,omitempty"`
	// Origin is the engine and user that made the backup (absent for a backup made by a
	// docker-maim that did not record it, and when the manifest cannot be read).
	Origin *Origin `json:"origin,omitempty"`
	// Owner is whose it is from here: "this" (this engine and user), "other-user",
	// "other-engine" (listed with AllEngines only), "unrecorded", "unknown".
	Owner BackupOwner `json:"owner"`
	// Locations say where the backup lives: "local" (the backup dir), "remote" (the
	// --remote copy, complete once its manifest is there), or both.
	Locations []string `json:"locations"`
	// RemoteStatus is the remote copy's status when it is not complete ("" otherwise, and
	// without a remote).
	RemoteStatus BackupStatus `json:"remote_status,omitempty"`
}

// Origin is the engine and user a backup was made by, as its manifest records them.
type Origin struct {
	// EngineID is the engine's state dir key (its ID, else a hash of its endpoint): what
	// tells engines apart.
	EngineID string `json:"engine_id"`
	// Context and Host are how the engine was reached (docker context and endpoint), for
	// people reading a listing: they do not tell engines apart (a context can be renamed
	// or repointed, one engine reached by two endpoints).
	Context string `json:"context,omitempty"`
	Host    string `json:"host,omitempty"`
	// UID and User are the user who made it (the numeric ID, on Windows the SID, and the
	// name): whose state dir holds the journal and history that protect it.
	UID  string `json:"uid,omitempty"`
	User string `json:"user,omitempty"`
}

// String names the engine for messages: "engine ID (context C, host H)".
func (o Origin) String() string {
	s := "engine " + o.EngineID
	switch {
	case o.Context != "" && o.Host != "":
		s += " (context " + o.Context + ", " + o.Host + ")"
	case o.Context != "":
		s += " (context " + o.Context + ")"
	case o.Host != "":
		s += " (" + o.Host + ")"
	}
	return s
}

// VerifyOptions select the backup Verify checks.
type VerifyOptions struct {
	// Scope selects the project and the backup store.
	Scope Scope
	// ID of the backup ("" is the newest).
	ID string
	// Identities are identity files (--identity; empty: MAIM_AGE_IDENTITY, read by app)
	// that open an encrypted backup: without one only its ciphertext is checked.
	Identities []string
}

// VerifyResult is a backup found intact (a damaged one is a *VerifyError).
type VerifyResult struct {
	// ID of the backup checked.
	ID string `json:"id"`
	// Project is the compose project's name.
	Project string `json:"project"`
	// Intact is always true (a damaged backup is an error).
	Intact bool `json:"intact"`
	// Archives is how many archives were read.
	Archives int `json:"archives"`
	// Bytes are the content bytes read.
	Bytes int64 `json:"bytes"`
	// Size is the archive bytes read.
	Size int64 `json:"size"`
	// Location is the copy checked: "local", or "remote" (verify --remote: each file's
	// hash against the manifest, the ciphertext's for a sealed copy).
	Location string `json:"location"`
	// Encrypted says the backup's archives are sealed with age.
	Encrypted bool `json:"encrypted,omitempty"`
	// CiphertextOnly says only the sealed files' hashes were checked (encrypted, and no
	// identity given): the archives inside were not read.
	CiphertextOnly bool `json:"ciphertext_only,omitempty"`
}
