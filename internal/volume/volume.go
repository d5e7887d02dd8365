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
//   - Helper container (fast, default when usable). The running docker-maim executable is
//     static and built for the engine's OS/arch, so it is imported once as a tiny local image
//     (docker-maim-helper:<sha256 prefix of the binary>, no registry involved) and run next to
//     the data with the target mounted at /data. For a backup the helper writes the compressed
//     archive to its stdout and the host only copies compressed bytes; for a restore the host
//     streams the compressed archive into the helper's stdin and the helper extracts it with
//     archive.Extract, which makes the target exactly equal to the archive. See [HelperMain].
//
//   - Archive API (portable fallback: a plugin binary that is not linux/<engine arch>, a
//     dynamically linked binary, or a failed helper import). A container is created, never
//     started, from a 0-byte image; the engine's archive endpoint (`docker cp`) is used to read
//     the data, and the tar it returns is re-encoded on the host into the archive layout
//     ("./", "./a", ...) and compressed. Because that API cannot delete files, restoring a named
//     volume first copies the archive into a fresh staging volume, then removes and recreates the
//     target volume (same driver, options and labels) and copies the staging volume into it; the
//     staging volume is removed only after that succeeded; paths the restore's Excludes keep
//     are copied from the old volume into the staging volume first. A bind-mounted directory
//     can be restored on this path only when it is missing or holds nothing but directories and
//     excluded paths (otherwise an error says so); a single-file bind is replaced.
//
// Every container this package creates carries the label [LabelHelper] and is removed (forced,
// with a fresh context) before the call returns, also on error and cancellation.
package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
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
// config.TemplateFromImage reads a template out of) or LabelValueStaging (an archive-API
// staging volume).
const (
	LabelHelper            = "com.docker-maim.helper"
	LabelValueImage        = "image"
	LabelValueContainer    = "container"
	LabelValueTemplateRead = "template-read"
	LabelValueStaging      = "staging"
)

// Target is one data source: a named volume or a host path that is bind-mounted.
type Target struct {
	Kind       string // "volume" or "bind"
	VolumeName string // engine volume name (Kind == "volume")
	HostPath   string // absolute path on the engine host (Kind == "bind")
	IsFile     bool   // bind-mounted single file
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
type BackupOptions struct {
	Compression archive.Compression
	Level       int
	Excludes    []string
	Progress    func(int64)
}

// RestoreOptions tune one restore. Compression must be the one the archive was written with
// (zero means zstd). Excludes are the patterns the backup left out (BackupOptions.Excludes):
// paths of the target matching them are kept as they are on every path, neither removed nor
// written. Progress is called with uncompressed content bytes as they are written.
type RestoreOptions struct {
	Compression archive.Compression
	Excludes    []string
	Progress    func(int64)
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
	// HelperBinary is the static linux executable put into the helper image; it must dispatch
	// `__maim-helper ...` to [HelperMain]. Default: os.Executable().
	HelperBinary string
	// Labels are added to every helper container (e.g. to find one run's containers).
	Labels map[string]string
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
	helperRef   string // imported helper image, once known
	helperErr   error  // why the helper path is unusable, once known
	helperKnown bool

	hostErr   error // why the host path is unusable, once known
	hostKnown bool
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

func (m *EngineMover) pick(ctx context.Context) (Path, error) {
	p, err := m.PathFor(ctx)
	if p == "" {
		return "", err
	}
	return p, nil
}

// pickFor is pick for one target: PathHost only when t's data is reachable here (its host
// path is returned too), otherwise the engine path PathAuto would take without the host.
func (m *EngineMover) pickFor(ctx context.Context, t Target, write bool) (Path, string, error) {
	p, err := m.pick(ctx)
	if err != nil || p != PathHost {
		return p, "", err
	}
	hp, herr := m.hostDataPath(ctx, t, write)
	if herr == nil {
		return PathHost, hp, nil
	}
	if ctx.Err() != nil {
		return "", "", ctx.Err()
	}
	if m.opts.Path == PathHost {
		return "", "", fmt.Errorf("%s is not reachable on the host: %w", t, herr)
	}
	p, err = m.enginePath(ctx)
	if p == "" {
		return "", "", err
	}
	return p, "", nil
}

// Backup implements Mover.
func (m *EngineMover) Backup(ctx context.Context, t Target, w io.Writer, opts BackupOptions) (archive.Stats, error) {
	if err := t.validate(); err != nil {
		return archive.Stats{}, err
	}
	if opts.Compression == "" {
		opts.Compression = archive.Zstd
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
		return hostRestore(ctx, t, hp, r, opts)
	case PathHelper:
		return m.helperRestore(ctx, t, r, opts)
	}
	return m.archiveRestore(ctx, t, r, opts)
}

// removeLeftovers force-removes helper containers (LabelHelper) that still mount volume t
// (a bind target has nothing to do): left by a docker-maim that was killed mid-transfer (the archive API's created-only
// containers are never auto-removed), they would keep the volume in use, so that neither a
// restore nor `docker compose down -v` could remove it. The project lock held by the caller
// means no live docker-maim owns a helper of this project's volumes.
func (m *EngineMover) removeLeftovers(ctx context.Context, t Target) error {
	if t.Kind != KindVolume {
		return nil
	}
	name := t.VolumeName
	res, err := m.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelHelper+"="+LabelValueContainer).Add("volume", name),
	})
	if err != nil {
		return fmt.Errorf("listing leftover helper containers of volume %s: %w", name, err)
	}
	for _, c := range res.Items {
		if err := removeContainer(m.cli, c.ID); err != nil {
			return err
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

// helperExecutable is the binary to put into the helper image.
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

func (m *EngineMover) helperExecutable() (string, error) {
	if m.opts.HelperBinary != "" {
		return m.opts.HelperBinary, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe, nil
}

// Sizer is a Mover that can tell, before a backup, how many content bytes it will read
// from a target (what archive.Stats.Bytes will count), so progress has a total.
type Sizer interface {
	Size(ctx context.Context, t Target, excludes []string) (int64, error)
}

// Size measures t on the host fast path with archive.Measure (metadata only); an error
// when that path cannot reach t (the size is then unknown to this Mover).
func (m *EngineMover) Size(ctx context.Context, t Target, excludes []string) (int64, error) {
	if err := t.validate(); err != nil {
		return 0, err
	}
	if err := m.hostUsable(ctx); err != nil {
		return 0, err
	}
	p, err := m.hostDataPath(ctx, t, false)
	if err != nil {
		return 0, err
	}
	return archive.Measure(ctx, p, excludes)
}
