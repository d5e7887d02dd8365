// Package volume moves data in and out of volumes and bind mounts through the engine.
//
// Three paths exist, picked per call by the [Mover] returned from [NewMover]:
//
//   - Host (fastest, default when usable): the engine is a local unix socket served from this
//     process's mount namespace, on linux with the engine's OS/arch, and this process is root.
//     Then a plain local volume's Mountpoint (driver "local", no options) or an existing bind
//     path is read and written directly with archive.WriteTar / archive.Extract, exactly as
//     the helper does in its container. Anything else falls back to the next paths per call.
//     MAIM_NO_HOST_PATH=1 ([EnvNoHostPath]) disables it.
//
//   - Helper container (fast, default when usable). The helper program (cmd/maim-helper,
//     internal/helper: tar, zstd, exact extraction, hashing) is built static for linux/amd64
//     and linux/arm64 and embedded in every docker-maim build ([EmbeddedHelpers]), whatever the
//     plugin's own OS, arch or cgo setting. The one for the engine's architecture (from the
//     engine's version) is checked to be a static ELF for that machine before anything is
//     imported, then imported once as a tiny local image (docker-maim-helper:<sha256 prefix of
//     the helper>, label [LabelHelper], no registry involved) and run next to the data with
//     the target mounted at /data. When the archive is a file of a local backup dir (a
//     [LocalSink] to back up into, an unread *os.File to restore from) and the engine is local
//     (a unix socket or a named pipe), the backup dir is bind-mounted too and the helper writes
//     the archive into the repository's temporary file itself (never creating it, so it keeps
//     the user's owner and mode; the host fsyncs and renames it) or reads it from there:
//     nothing goes through the engine's attach stream, only small JSON lines (progress, stats,
//     the archive's size and sha256). A marker file the host writes into the dir, checked by
//     the helper before it touches anything, proves the engine sees the same dir (a remote
//     engine, or a Docker Desktop VM the dir is not shared with, does not). Otherwise, or with
//     [EnvHelperStream], the helper writes the compressed archive to its stdout and the host
//     copies compressed bytes into the destination; for a restore the host streams the
//     compressed archive into the helper's stdin. Either way the helper extracts with
//     archive.Extract, which makes the target exactly equal to the archive. [EnvHelperArch]
//     forces the embedded helper of another architecture (tests: it is refused, and the next
//     path taken).
//
//   - Archive API (portable fallback, for engines where no helper can run: an architecture
//     with no embedded helper, a build without embedded helpers, a failed helper import). A container is created, never
//     started, from a 0-byte image; the engine's archive endpoint (`docker cp`) is used to read
//     the data, and the tar it returns is re-encoded on the host into the archive layout
//     ("./", "./a", ...) and compressed. A volume or a bind-mounted directory is restored in
//     place, never by removing the volume (a stopped container may reference it: a compose
//     service's always does): the archive is first written into a fresh staging volume (a
//     bad archive leaves the target untouched), the target is listed, and the staging tree is
//     copied onto the target in one stream. That API cannot delete, but extracting a
//     non-directory over a directory removes the directory's tree: each directory of the
//     archive under which the target holds something the archive lacks gets an empty file
//     entry just before its own entry, so its old tree goes and the archive's rebuilds it.
//     The result is exact (owners, modes and mtimes from the archive, to the second). What
//     cannot be done that way is refused before anything of the target is touched, saying
//     why: an entry to delete at the top of the target (its mount point cannot be cleared),
//     or a directory to clear that holds paths the restore's Excludes keep. Paths the
//     Excludes keep are otherwise left as they are. A single-file bind is replaced.
//
// A single-file bind (IsFile) is reached on every path through its Target.Root (the project
// dir), never by itself: the file is resolved beneath it at the moment it is read or
// replaced, a symlink on the way followed only while it stays beneath Root (fsaccess.Beneath;
// through the archive API, the engine's stat and its resolution within the container), so
// a link a service swapped in after the plan never leads a backup or a restore out of the
// project.
//
// Which path a call took is reported ([EngineMover.DataPath], Options.OnPath): "host",
// "helper container (linux/ARCH), writing to the backup dir directly" (", reading from the
// backup dir directly" for a restore), "helper container (linux/ARCH) via attach stream
// (<why not directly>)" (DataPath adds the stream's speed, ", 85.2MB/s") or
// "archive API: <why no helper>".
//
// Every container this package creates carries the label [LabelHelper] and is removed (forced,
// with a fresh context) before the call returns, also on error and cancellation.
package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/moby/moby/client"
)

// Target kinds.
const (
	KindVolume = "volume"
	KindBind   = "bind"
)

// LabelHelper marks every image, container and volume docker-maim creates for itself: the
// one label of docker-maim's helpers, so `docker ps -a --filter label=LabelHelper` finds every
// leftover and `docker image ls --filter label=...` the helper images to prune. Its value
// says what kind of helper it is: LabelValueImage (a helper image), LabelValueContainer (a
// container reaching data), LabelValueTemplateRead (a created-only container that
// templates.FromImage reads a template out of) or LabelValueStaging (an archive-API
// staging volume).
const (
	LabelHelper            = "com.docker-maim.helper"
	LabelValueImage        = "image"
	LabelValueContainer    = "container"
	LabelValueTemplateRead = "template-read"
	LabelValueStaging      = "staging"
	// LabelHelperTarget, on a helper container, names the target it reaches (Target.String:
	// "volume NAME", "bind PATH", "bind file PATH").
	LabelHelperTarget = LabelHelper + ".target"
)

// Target is one data source: a named volume or a host path that is bind-mounted.
type Target struct {
	Kind       string // "volume" or "bind"
	VolumeName string // engine volume name (Kind == "volume")
	HostPath   string // absolute path on the engine host (Kind == "bind")
	IsFile     bool   // bind-mounted single file
	// Root (single-file binds) is the directory HostPath must stay beneath when its data is
	// read or written, decided at that moment on every path (fsaccess.Beneath): the project
	// dir. A symlink on the way is followed only while it stays beneath Root; one leading
	// out fails the backup of that source, and the restore refuses without writing. ""
	// means HostPath's parent directory.
	Root string
}

func (t Target) String() string {
	if t.Kind == KindVolume {
		return "volume " + t.VolumeName
	}
	if t.IsFile {
		return "bind file " + t.HostPath
	}
	return "bind " + t.HostPath
}

func (t Target) validate() error {
	switch t.Kind {
	case KindVolume:
		if t.VolumeName == "" {
			return errors.New("volume target without a volume name")
		}
		if t.IsFile {
			return fmt.Errorf("volume %s: IsFile is only valid for bind targets", t.VolumeName)
		}
	case KindBind:
		// Engine host paths are always slash paths (linux engines), whatever the client OS.
		if t.HostPath == "" || !path.IsAbs(t.HostPath) {
			return fmt.Errorf("bind target %q: host path must be absolute", t.HostPath)
		}
		if t.IsFile && path.Clean(t.HostPath) == "/" {
			return errors.New("bind target /: cannot be a single file")
		}
	default:
		return fmt.Errorf("unknown target kind %q (want %q or %q)", t.Kind, KindVolume, KindBind)
	}
	return nil
}

// BackupOptions tune one backup. A zero Compression means zstd; Level 0 the codec default.
// Progress is called with uncompressed content bytes as they are read.
//
// Two-pass backups: with Record set, the backup is pass one and Record is filled with the
// index of what it read (left empty, Start zero, on the archive API, which cannot record
// one); with Since set, it is pass two and writes the delta since that index, on the host
// and helper paths (the result's Stats.Delta is set). The archive API writes a whole
// archive instead (Stats.Delta unset): that source is one-pass.
type BackupOptions struct {
	Compression archive.Compression
	Level       int
	Excludes    []string
	Progress    func(int64)
	Record      *archive.Index
	Since       *archive.Index
	// Final, when set, is filled with the index of the tree as the archive (with its base,
	// for pass two) holds it (archive.WriteOptions.Final), on the host and helper paths;
	// the archive API leaves it empty (Start zero).
	Final *archive.Index
	// Transient are exact names at the target's root of dirs of docker-maim's own (a
	// differential restore's stage, diffrestore.StagePrefix; a side cluster's dir) that exist
	// only while an operation runs: left out of the archive and the index as Excludes leave
	// a path out, but not recorded as the backup's excludes (the caller records only
	// Excludes), so any restore of the backup removes them. A name must hold no wildcard
	// and no "/".
	Transient []string
}

// RestoreOptions tune one restore. Compression must be the one the archive was written with
// (zero means zstd). Excludes are the patterns the backup left out (BackupOptions.Excludes):
// paths of the target matching them are kept as they are on every path, neither removed nor
// written. Progress is called with uncompressed content bytes as they are written.
//
// Delta says the archive is the delta of a two-pass backup, applied over its base, which a
// Restore of the base wrote just before (host and helper paths; the archive API refuses).
type RestoreOptions struct {
	Compression archive.Compression
	Excludes    []string
	Progress    func(int64)
	Delta       bool
	// Ready, when set, is waited for before the first change to the target: the caller's
	// check of the archive (its hash against the manifest) runs while the restore gets
	// ready (a helper container is created and started, and waits). Its error ends the
	// restore with nothing written and is returned as it is.
	Ready func() error
}

// ready waits for o.Ready, if any.
func (o RestoreOptions) ready() error {
	if o.Ready == nil {
		return nil
	}
	return o.Ready()
}

// Mover moves archives in and out of targets.
type Mover interface {
	// Backup streams a compressed archive of t to w.
	Backup(ctx context.Context, t Target, w io.Writer, opts BackupOptions) (archive.Stats, error)
	// Restore makes t exactly equal to the compressed archive read from r, except for the
	// paths opts.Excludes keeps.
	Restore(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (archive.Stats, error)
}

// Path names a way of reaching the data.
type Path string

const (
	PathAuto    Path = ""        // host when usable, then helper container, archive API otherwise
	PathHost    Path = "host"    // direct host access only (error when unusable)
	PathHelper  Path = "helper"  // helper container only (error when unusable)
	PathArchive Path = "archive" // engine archive API only
)

// Options configure a Mover beyond [NewMover]'s defaults.
type Options struct {
	// Path forces one path; the default picks the helper when usable.
	Path Path
	// HelperBinary is a static linux executable put into the helper image instead of the
	// embedded helper (tests); it must behave as cmd/maim-helper (helper.Main).
	HelperBinary string
	// Labels are added to every helper container (e.g. to find one run's containers).
	Labels map[string]string
	// OnPath, when set, is called with the description of each data path ([EngineMover.DataPath])
	// the first time a Backup or Restore takes it.
	OnPath func(desc string)
}

// NewMover returns a Mover that uses the helper container when the running executable can
// serve as one for this engine, and the archive API otherwise.
func NewMover(cli client.APIClient) Mover { return NewMoverWithOptions(cli, Options{}) }

// NewMoverWithOptions is NewMover with explicit options.
func NewMoverWithOptions(cli client.APIClient, opts Options) *EngineMover {
	return &EngineMover{cli: cli, opts: opts}
}

// EngineMover is the Mover implementation; it is safe for concurrent use.
type EngineMover struct {
	cli  client.APIClient
	opts Options

	mu          sync.Mutex
	helperRef   string // ID of the helper image, checked by content, once known
	helperErr   error  // why the helper path is unusable, once known
	helperKnown bool
	helperDesc  string // "helper container (linux/ARCH)", once known

	hostErr   error // why the host path is unusable, once known
	hostKnown bool

	used       []string          // descriptions of the data paths taken, in order
	streamed   map[string]*meter // bytes and time through the attach stream, by description
	notVisible map[string]string // backup dirs the engine does not see, with why
}

// describe names a data path for reports: "host", "helper container (linux/amd64)" or
// "archive API: <why the helper is not used>".
func (m *EngineMover) describe(p Path, why error) string {
	switch p {
	case PathHost:
		return "host"
	case PathHelper:
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.helperDesc != "" {
			return m.helperDesc
		}
		return "helper container"
	}
	if m.opts.Path == PathArchive {
		return "archive API: forced"
	}
	if why == nil {
		m.mu.Lock()
		why = m.helperErr
		m.mu.Unlock()
	}
	if why == nil {
		return "archive API"
	}
	return "archive API: " + why.Error()
}

// recordPath notes that a call took path p (why: the reason the helper was not used).
func (m *EngineMover) recordPath(p Path, why error) { m.record(m.describe(p, why)) }

// record notes that a call took the data path described by d.
func (m *EngineMover) record(d string) {
	m.mu.Lock()
	for _, u := range m.used {
		if u == d {
			m.mu.Unlock()
			return
		}
	}
	m.used = append(m.used, d)
	m.mu.Unlock()
	if m.opts.OnPath != nil {
		m.opts.OnPath(d)
	}
}

// DataPath describes the data paths the Backup and Restore calls so far took, in order,
// joined with "; " ("" before any call).
func (m *EngineMover) DataPath() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.used))
	for i, d := range m.used {
		out[i] = d
		if s := m.streamed[d]; s != nil {
			out[i] += s.String()
		}
	}
	return strings.Join(out, "; ")
}

// PathFor reports which path Backup and Restore will take against this engine, importing the
// helper image if needed. The error explains why the helper is not used (nil for PathHelper).
//
// PathHost is reported when this process can reach the engine's data directly (see
// [EngineMover.hostUsable]); each call still checks that its target is a plain local volume
// or an existing host path and otherwise falls back to the helper or the archive API (with
// PathAuto; a forced PathHost fails instead). [EnvNoHostPath] disables it.
func (m *EngineMover) PathFor(ctx context.Context) (Path, error) {
	switch m.opts.Path {
	case PathArchive:
		return PathArchive, nil
	case PathHelper:
		_, err := m.helperImage(ctx)
		if err != nil {
			return "", err
		}
		return PathHelper, nil
	case PathHost:
		if err := m.hostUsable(ctx); err != nil {
			return "", err
		}
		return PathHost, nil
	}
	if err := m.hostUsable(ctx); err == nil {
		return PathHost, nil
	} else if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return m.enginePath(ctx)
}

// enginePath picks between the helper and the archive API, as PathFor does for PathAuto when
// the host path is unusable.
func (m *EngineMover) enginePath(ctx context.Context) (Path, error) {
	if _, err := m.helperImage(ctx); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return PathArchive, err
	}
	return PathHelper, nil
}

// pick is PathFor, with the reason a usable path other than the preferred one was taken.
func (m *EngineMover) pick(ctx context.Context) (Path, error, error) {
	p, err := m.PathFor(ctx)
	if p == "" {
		return "", nil, err
	}
	return p, err, nil
}

// pickFor is pick for one target: PathHost only when t's data is reachable here (its host
// path is returned too), otherwise the engine path PathAuto would take without the host.
func (m *EngineMover) pickFor(ctx context.Context, t Target, write bool) (Path, string, error) {
	p, hp, why, err := m.pickFor1(ctx, t, write)
	if err == nil && p != PathHelper {
		m.recordPath(p, why) // the helper records which of its ways it takes
	}
	return p, hp, err
}

func (m *EngineMover) pickFor1(ctx context.Context, t Target, write bool) (Path, string, error, error) {
	p, why, err := m.pick(ctx)
	if err != nil || p != PathHost {
		return p, "", why, err
	}
	hp, herr := m.hostDataPath(ctx, t, write)
	if herr == nil {
		return PathHost, hp, nil, nil
	}
	if ctx.Err() != nil {
		return "", "", nil, ctx.Err()
	}
	if m.opts.Path == PathHost {
		return "", "", nil, fmt.Errorf("%s is not reachable on the host: %w", t, herr)
	}
	p, err = m.enginePath(ctx)
	if p == "" {
		return "", "", nil, err
	}
	return p, "", err, nil
}

// Backup implements Mover.
func (m *EngineMover) Backup(ctx context.Context, t Target, w io.Writer, opts BackupOptions) (archive.Stats, error) {
	if err := t.validate(); err != nil {
		return archive.Stats{}, err
	}
	if opts.Compression == "" {
		opts.Compression = archive.Zstd
	}
	var err error
	if opts.Excludes, err = transientExcludes(opts); err != nil {
		return archive.Stats{}, err
	}
	if err := m.checkSource(ctx, t); err != nil {
		return archive.Stats{}, err
	}
	if err := m.removeLeftovers(ctx, t); err != nil {
		return archive.Stats{}, err
	}
	p, hp, err := m.pickFor(ctx, t, false)
	if err != nil {
		return archive.Stats{}, err
	}
	switch p {
	case PathHost:
		return hostBackup(ctx, t, hp, w, opts)
	case PathHelper:
		return m.helperBackup(ctx, t, w, opts)
	}
	// The archive API reads the tree through the engine, with no ctimes or inodes: pass one
	// records no index and pass two is a whole archive.
	opts.Record, opts.Since, opts.Final = nil, nil, nil
	return m.archiveBackup(ctx, t, w, opts)
}

// Restore implements Mover.
func (m *EngineMover) Restore(ctx context.Context, t Target, r io.Reader, opts RestoreOptions) (archive.Stats, error) {
	if err := t.validate(); err != nil {
		return archive.Stats{}, err
	}
	if opts.Compression == "" {
		opts.Compression = archive.Zstd
	}
	if err := m.removeLeftovers(ctx, t); err != nil {
		return archive.Stats{}, err
	}
	p, hp, err := m.pickFor(ctx, t, true)
	if err != nil {
		return archive.Stats{}, err
	}
	switch p {
	case PathHost:
		if err := opts.ready(); err != nil {
			return archive.Stats{}, err
		}
		return hostRestore(ctx, t, hp, r, opts)
	case PathHelper:
		return m.helperRestore(ctx, t, r, opts) // the helper waits for Ready in its container
	}
	if opts.Delta {
		return archive.Stats{}, fmt.Errorf("restore of %s: the delta of a two-pass backup cannot be applied through the archive API (%s)", t, m.describe(PathArchive, nil))
	}
	if err := opts.ready(); err != nil {
		return archive.Stats{}, err
	}
	return m.archiveRestore(ctx, t, r, opts)
}

// removeLeftovers force-removes helper containers (LabelHelper) that still reach t, before
// anything of this call touches it: left by a docker-maim that was killed mid-transfer (the
// archive API's created-only containers are never auto-removed; a helper cut off from its
// caller stops on its own, but may still be at it), they would keep a volume in use (so that
// neither a restore nor `docker compose down -v` could remove it) or write into the target
// while it is restored again. A helper reaches t when it carries t in LabelHelperTarget,
// mounts volume t, or bind-mounts t's host path (an archive-API container, which has no
// target label). The project lock held by the caller means no live docker-maim owns a
// helper of this project's targets.
func (m *EngineMover) removeLeftovers(ctx context.Context, t Target) error {
	byLabel := make(client.Filters).Add("label", LabelHelper+"="+LabelValueContainer).Add("label", LabelHelperTarget+"="+t.String())
	other := make(client.Filters).Add("label", LabelHelper+"="+LabelValueContainer)
	if t.Kind == KindVolume {
		other = other.Add("volume", t.VolumeName)
	}
	seen := map[string]bool{}
	for _, f := range []client.Filters{byLabel, other} {
		res, err := m.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			return fmt.Errorf("listing leftover helper containers of %s: %w", t, err)
		}
		for _, c := range res.Items {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			reaches := t.Kind == KindVolume || c.Labels[LabelHelperTarget] == t.String()
			for _, mp := range c.Mounts {
				reaches = reaches || (t.Kind == KindBind && string(mp.Type) == "bind" && path.Clean(mp.Source) == path.Clean(t.HostPath))
			}
			if !reaches {
				continue
			}
			if err := removeContainer(m.cli, c.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSource refuses to back up a volume that does not exist: mounting it would create an
// empty one and the backup would silently be empty.
func (m *EngineMover) checkSource(ctx context.Context, t Target) error {
	if t.Kind != KindVolume {
		return nil
	}
	ok, err := volumeExists(ctx, m.cli, t.VolumeName)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("volume %s does not exist", t.VolumeName)
	}
	return nil
}

func volumeExists(ctx context.Context, cli client.APIClient, name string) (bool, error) {
	res, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		return false, fmt.Errorf("listing volumes: %w", err)
	}
	for _, v := range res.Items {
		if v.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// containerLabels are the labels of a helper container.
func (m *EngineMover) containerLabels() map[string]string {
	l := map[string]string{LabelHelper: LabelValueContainer}
	for k, v := range m.opts.Labels {
		if k != LabelHelper {
			l[k] = v
		}
	}
	return l
}

// targetLabels are the labels of a helper container that reaches t: containerLabels and
// LabelHelperTarget, by which removeLeftovers finds it.
func (m *EngineMover) targetLabels(t Target) map[string]string {
	l := m.containerLabels()
	l[LabelHelperTarget] = t.String()
	return l
}
