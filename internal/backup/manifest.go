// Package backup owns the backup store: backups <project>/<ID>/{archives, manifest.json}
// kept in a Repository (the small interface any place to keep them implements; LocalDir,
// a directory, is the first, and backuptest.Conformance is what each must pass), backup
// IDs, the manifest format, archive writes hashed as they pass, listing with status,
// verification (whole or per source), the per-project lock, and the guard that keeps a
// local backup dir out of the data sources (ResolveDir, CheckRoot).
// It knows nothing of the engine: archives arrive as byte streams.
package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
)

// FormatVersion is the newest manifest format this build writes. Readers accept versions
// up to it. A manifest is written as version 1 unless a source has a Delta (version 2,
// which older builds refuse rather than restore the hot base alone), its archives are
// sealed (FormatSealed, which older builds refuse rather than read ciphertext as an
// archive) or a source is incremental or unchanged (FormatIncremental: a Base or a Ref,
// which older builds would restore as if the delta were whole).
const FormatVersion = FormatIncremental

// FormatSealed is the format version of a manifest with Encryption.
const FormatSealed = 3

// FormatIncremental is the format version of a manifest with a source that has a Base or
// a Ref (sealed or not).
const FormatIncremental = 4

// ManifestName is the file that marks a backup complete; it is written last.
const ManifestName = "manifest.json"

// Manifest describes one backup.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	ID            string    `json:"id"`
	Project       string    `json:"project"`
	CreatedAt     time.Time `json:"created_at"`
	ToolVersion   string    `json:"tool_version"`
	EngineVersion string    `json:"engine_version"`
	EngineAPI     string    `json:"engine_api_version,omitempty"`
	// Origin is the engine and user that made the backup (Store.Origin; nil in a backup an
	// older docker-maim made: it may be any engine's).
	Origin *Origin `json:"origin,omitempty"`
	// Reason says why the backup was made: "manual", "upgrade", "pre-restore", "pre-rollback".
	Reason       string   `json:"reason"`
	Compression  string   `json:"compression"`
	WorkingDir   string   `json:"working_dir"`
	ComposeFiles []string `json:"compose_files"`
	EnvFiles     []string `json:"env_files,omitempty"`
	Profiles     []string `json:"profiles,omitempty"`
	// Excludes are the --exclude patterns the data sources were archived with (project
	// files never have any). A restore leaves the paths matching them as they are.
	Excludes []string `json:"excludes,omitempty"`
	// ExcludeSyntax names the syntax of Excludes: "dockerignore" (exclude.Syntax). Empty in
	// a backup an older docker-maim made, whose patterns exclude.FromLegacy translates.
	ExcludeSyntax string `json:"exclude_syntax,omitempty"`
	// Stopped tells whether the services were stopped while archiving (false: --no-stop).
	Stopped bool `json:"stopped"`
	// Running lists the services that were running when the backup began, in start order:
	// with Stopped, exactly the services stopped for it (listed again right before the
	// stop, so one started during a two-pass backup's pass one is among them).
	Running []string `json:"running"`
	// OneOffs lists the service of each one-off container (`docker compose run`) that was
	// running, one entry per container, sorted: with Stopped, stopped for the backup like
	// the services and started again after it; a rollback does not bring them back.
	OneOffs []string `json:"one_offs,omitempty"`
	Sources []Source `json:"sources"`
	// Dumps are the logical database dumps taken beside the sources' archives, before
	// anything stopped (each an archive of its own: the tool's output, compressed).
	Dumps    []Dump    `json:"dumps,omitempty"`
	Services []Service `json:"services"`
	// Upgrade is set when the backup is the first step of an upgrade.
	Upgrade *UpgradeInfo `json:"upgrade,omitempty"`
	// Merges lists the config files merged after this backup (their old bytes are in it).
	Notes []string `json:"notes,omitempty"`
	// AppVersions are data and config versions an application records for itself, read
	// while backing up (MaiBot: "maibot.db_schema" from MaiBot.db's user_version,
	// "maibot.config.bot_config.toml" from its [inner].version). Shown by backups and status.
	AppVersions map[string]string `json:"app_versions,omitempty"`

	// Encryption, when set, says the archives (sources, deltas, dumps) are sealed with
	// age: each one's SHA256 and ArchiveSize are then the ciphertext's (the file as
	// stored, checked without an identity) and its Plain the archive's before sealing.
	// The manifest itself stays plaintext, so listing, prune and scheduled runs need no
	// identity: it shows names, paths, sizes, hashes and versions, never the data.
	Encryption *Encryption `json:"encryption,omitempty"`

	// HostPaths are bind sources left out because they belong to the host, not to the
	// project (Kind "host-path", HostReason says why): nothing of them is in the backup
	// and a restore never writes them.
	HostPaths []project.Source `json:"host_paths,omitempty"`
	// LeftOut are data sources this backup did not take on purpose (an upgrade's backup
	// leaves out the sources whose policy is never; --exclude-source): a restore of it
	// leaves them as they are and says so.
	LeftOut []LeftOut `json:"left_out,omitempty"`

	// Stored is set in the manifest of a remote copy only (internal/replica): the files of
	// the copy that are no archive (reports, a release's compose files), by name, with
	// their SHA-256 and size, so a fetch knows and checks them. A local backup has none.
	Stored map[string]StoredFile `json:"stored,omitempty"`
}

// LeftOut is a data source a backup left out on purpose, and why.
type LeftOut struct {
	project.Source
	Why string `json:"why"`
}

// StoredFile is one extra file of a remote copy (Manifest.Stored).
type StoredFile struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Source is one archived data source.
type Source struct {
	project.Source
	Driver      string            `json:"driver,omitempty"`
	DriverOpts  map[string]string `json:"driver_opts,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Archive     string            `json:"archive"`
	SHA256      string            `json:"sha256"`
	ArchiveSize int64             `json:"archive_size"`
	Bytes       int64             `json:"bytes"`   // uncompressed content bytes
	Files       int64             `json:"files"`   // regular files
	Entries     int64             `json:"entries"` // tar entries (dirs, links, files, ...)
	// Base, when set, makes this source incremental: Archive is a delta (the format of a
	// two-pass backup's second archive) over the source as backup Base.ID holds it, so a
	// restore applies the chain of bases first (Store.Chain).
	Base *Base `json:"base,omitempty"`
	// Ref, when set, says this source did not change since backup Ref (policy changed):
	// the entry is Ref's, and its archives are Ref's files, which this backup does not hold
	// (Entry.Open reads them there).
	Ref string `json:"ref,omitempty"`
	// Full says why a source that could have been incremental was taken whole (--full, too
	// many increments, the tree is not the base's, ...); "" otherwise.
	Full string `json:"full,omitempty"`
	// Delta, when set, makes this source two-pass: Archive is the hot copy read while the
	// services ran, Delta what changed since it began, read once they were stopped
	// (archive.ApplyDelta applies it over the extracted Archive).
	Delta *Delta `json:"delta,omitempty"`
	// OnePass, set in a two-pass backup, says why this directory source was archived once,
	// stopped: its file system cannot show every change by the files' times (see
	// fsaccess.Inexact). Archive is then that whole archive.
	OnePass string `json:"one_pass,omitempty"`
	// Index, when set, is the final index of this directory source: what each path was
	// when the backup last read it (see Index). Backups before it, single files and the
	// archive API's data path have none.
	Index *Index `json:"index,omitempty"`
	// Plain is the archive before it was sealed (Manifest.Encryption; nil when plain).
	Plain *Plain `json:"plain,omitempty"`
}

// Encryption is how a backup's archives are sealed.
type Encryption struct {
	// Scheme is "age" (age-encryption.org/v1, the format of the age CLI).
	Scheme string `json:"scheme"`
	// Recipients describe the public keys sealed to: an age key as it is, an SSH key as
	// its type and SHA-256 fingerprint (crypt.Describe). Never a secret.
	Recipients []string `json:"recipients"`
}

// SchemeAge is the one Encryption.Scheme.
const SchemeAge = "age"

// Plain is a sealed archive's plaintext (the compressed archive before sealing): its
// SHA-256 (hex) and size.
type Plain struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Delta is the second archive of a two-pass source: counts as archive.Scan reports them.
type Delta struct {
	Archive     string `json:"archive"`
	SHA256      string `json:"sha256"`
	ArchiveSize int64  `json:"archive_size"`
	Bytes       int64  `json:"bytes"`
	Files       int64  `json:"files"`
	Entries     int64  `json:"entries"`
	Deleted     int64  `json:"deleted"` // paths its deletion list names
	// Plain is the delta before it was sealed (nil when plain).
	Plain *Plain `json:"plain,omitempty"`
}

// DeltaSource is the delta of s as a Source whose Archive and counts are the delta's (to
// open, stat and verify it as one).
func (s Source) DeltaSource() Source {
	d := s
	d.Delta = nil
	d.Archive, d.SHA256, d.ArchiveSize = s.Delta.Archive, s.Delta.SHA256, s.Delta.ArchiveSize
	d.Bytes, d.Files, d.Entries = s.Delta.Bytes, s.Delta.Files, s.Delta.Entries
	d.Plain = s.Delta.Plain
	return d
}

// Dump is one logical database dump of a backup: what the database's own tool
// (pg_dumpall, mariadb-dump, mysqldump) wrote, compressed as the backup's archives are.
type Dump struct {
	// Service is the compose service whose running container was dumped.
	Service string `json:"service"`
	// Engine is the database: postgresql, mariadb or mysql.
	Engine string `json:"engine"`
	// Command is the tool and its arguments as run (no password: it went through the
	// exec's environment).
	Command string `json:"command"`
	// Image is the container's image reference.
	Image       string `json:"image,omitempty"`
	Archive     string `json:"archive"`
	SHA256      string `json:"sha256"`
	ArchiveSize int64  `json:"archive_size"`
	// Bytes is the dump's size uncompressed.
	Bytes int64 `json:"bytes"`
	// Plain is the dump's archive before it was sealed (nil when plain).
	Plain *Plain `json:"plain,omitempty"`
}

// Source is the dump as a Source whose Archive, hash and size are the dump's (to open,
// stat and hash it as one).
func (d Dump) Source() Source {
	return Source{Source: project.Source{Name: "dump of " + d.Service}, Archive: d.Archive, SHA256: d.SHA256, ArchiveSize: d.ArchiveSize, Bytes: d.Bytes, Plain: d.Plain}
}

// Service records what ran for a service when the backup was made.
type Service struct {
	Name        string   `json:"name"`
	Image       string   `json:"image"`                 // reference in the compose file
	RunningRef  string   `json:"running_ref,omitempty"` // reference the container was created from
	ImageID     string   `json:"image_id"`              // the container's image ID
	RepoDigests []string `json:"repo_digests,omitempty"`
	Version     string   `json:"version,omitempty"` // org.opencontainers.image.version
	ConfigHash  string   `json:"config_hash,omitempty"`
	Pin         string   `json:"pin,omitempty"` // local tag that keeps the image from being pruned
}

// UpgradeInfo records the versions an upgrade went from and to.
type UpgradeInfo struct {
	From map[string]string `json:"from"` // service -> image (version)
	To   map[string]string `json:"to"`
	// Adopted is set when the upgrade replaced the compose files with a release's new
	// ones (upgrade --compose-file): the files before are in this backup as sources.
	Adopted []AdoptedFile `json:"adopted,omitempty"`
}

// AdoptedFile is one compose file an upgrade replaced with a release's new file.
type AdoptedFile struct {
	// File is the project's compose file that was replaced (absolute path).
	File string `json:"file"`
	// Upstream names the extra file in the backup that holds the release's file as it was
	// given (before the merge): the base of the next adoption's three-way merge.
	Upstream string `json:"upstream"`
	// Mode is how the user's edits were carried: "three-way" or "two-way".
	Mode string `json:"mode"`
}

// Files are the names of every file of the backup the manifest references besides itself:
// each source's archive, delta and index, each dump's archive. What copies a backup file by
// file copies these. An unchanged source's files (Ref) are another backup's and are not
// listed: a backup needs the backups Needs names too (incremental bases, Ref).
func (m *Manifest) Files() []string {
	var out []string
	for _, s := range m.Sources {
		if s.Ref != "" {
			continue
		}
		if s.Archive != "" {
			out = append(out, s.Archive)
		}
		if s.Delta != nil {
			out = append(out, s.Delta.Archive)
		}
		if s.Index != nil {
			out = append(out, s.Index.File)
		}
	}
	for _, d := range m.Dumps {
		out = append(out, d.Archive)
	}
	return out
}

// Size is the total archive size in bytes.
func (m *Manifest) Size() int64 {
	var n int64
	for _, s := range m.Sources {
		n += s.ArchiveSize
		if s.Delta != nil {
			n += s.Delta.ArchiveSize
		}
		if s.Index != nil {
			n += s.Index.Size
		}
	}
	for _, d := range m.Dumps {
		n += d.ArchiveSize
	}
	return n
}

// IncludedHostPaths are the host paths of the sources that were opted in with
// --include-host-path (they carry a HostReason): pass them to project.SourcesWith to see
// the project as this backup saw it.
func (m *Manifest) IncludedHostPaths() []string {
	var out []string
	for _, s := range m.Sources {
		if s.HostReason != "" && s.HostPath != "" {
			out = append(out, s.HostPath)
		}
	}
	return out
}

// Source finds a source by name.
func (m *Manifest) Source(name string) (Source, bool) {
	for _, s := range m.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return Source{}, false
}

func decodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.FormatVersion < 1 || m.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("manifest format version %d is not supported by this build (max %d)", m.FormatVersion, FormatVersion)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := m.validateChains(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, nil
}

// validate refuses a manifest whose fields would make a restore read or write outside
// what a backup can hold: archive names that are not plain file names in the backup's
// directory, unknown source kinds, unnamed or duplicate sources, targets that are not
// absolute paths or plain volume names. Verify re-hashes the archives, not the manifest:
// this is what keeps an edited manifest from steering a restore.
func (m *Manifest) validate() error {
	names, archives := map[string]bool{}, map[string]bool{}
	for _, s := range m.Sources {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("source %q: %s", s.Name, fmt.Sprintf(format, a...))
		}
		if s.Name == "" || strings.ContainsRune(s.Name, 0) || names[s.Name] {
			return bad("empty or duplicate source name")
		}
		names[s.Name] = true
		if s.Kind == project.KindHostPath && s.Archive == "" {
			continue // listed, not archived
		}
		if err := plainFileName(s.Archive); err != nil {
			return bad("archive %q: %v", s.Archive, err)
		}
		if archives[s.Archive] {
			return bad("archive %q is used twice", s.Archive)
		}
		archives[s.Archive] = true
		if s.Delta != nil {
			if err := plainFileName(s.Delta.Archive); err != nil {
				return bad("delta archive %q: %v", s.Delta.Archive, err)
			}
			if archives[s.Delta.Archive] {
				return bad("archive %q is used twice", s.Delta.Archive)
			}
			archives[s.Delta.Archive] = true
		}
		if s.Index != nil {
			if err := plainFileName(s.Index.File); err != nil {
				return bad("index %q: %v", s.Index.File, err)
			}
			if archives[s.Index.File] {
				return bad("file %q is used twice", s.Index.File)
			}
			archives[s.Index.File] = true
		}
		switch s.Kind {
		case project.KindVolume, project.KindAnonymous:
			if s.VolumeName == "" || strings.ContainsAny(s.VolumeName, "/\\\x00") || s.HostPath != "" {
				return bad("%s needs a plain volume name and no host path", s.Kind)
			}
		case project.KindBindDir, project.KindBindFile, project.KindProjectFile, project.KindHostPath:
			if !filepath.IsAbs(s.HostPath) || filepath.Clean(s.HostPath) != s.HostPath || s.VolumeName != "" {
				return bad("%s needs an absolute, clean host path and no volume name", s.Kind)
			}
		default:
			return bad("unknown kind %q", s.Kind)
		}
	}
	if err := m.validateDumps(archives); err != nil {
		return err
	}
	return m.validateSealing()
}

// validateDumps refuses a dump whose archive is no plain file name or is used twice.
func (m *Manifest) validateDumps(archives map[string]bool) error {
	for _, d := range m.Dumps {
		if err := plainFileName(d.Archive); err != nil {
			return fmt.Errorf("dump of %q: archive %q: %v", d.Service, d.Archive, err)
		}
		if archives[d.Archive] {
			return fmt.Errorf("dump of %q: archive %q is used twice", d.Service, d.Archive)
		}
		archives[d.Archive] = true
	}
	return nil
}

// plainFileName accepts a file name that stays in the directory it is joined to.
func plainFileName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errors.New("not a file name")
	case strings.ContainsAny(name, "/\\\x00"):
		return errors.New("has a path separator")
	case name == ManifestName:
		return errors.New("is the manifest itself")
	}
	return nil
}
