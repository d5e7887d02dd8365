// Package snapshot backs up and restores a whole Compose project: it moves every data
// source through internal/volume into the store of internal/backup, and back. It never
// stops or starts a service: the caller stops what runs and starts it again (the backup
// verb in internal/app, the upgrade transaction, the journaled restore and the rollback
// in internal/upgrade), and tells Backup and Restore what it stopped.
// Restore verifies first, writes each source of the backup to the current project's source
// of the same name (refusing moved ones, skipping ones the project no longer has, never
// writing host paths), takes a safety backup of everything it is about to replace, and
// puts that back if the restore fails. A backup's --exclude patterns are recorded in its
// manifest and what they match is left untouched by a restore.
// Two-pass backups: HotPass (pass one) archives each directory source while the services
// still run, recording what it read; BackupPlanned, once the caller stopped them, archives
// only what changed since (a delta per source, beside the hot copy in the manifest); a
// restore applies both.
// Progress tasks carry totals: a backup measures its sources ([Service.Sizes]) in
// PlanBackup, which a caller runs before it stops anything, unless the caller measured
// them already; a restore takes the manifest's bytes.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/exclude"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
)

// Engine is what snapshot needs from the Docker engine.
type Engine interface {
	project.Lifecycle
	VolumeInspect(ctx context.Context, volumeID string, options client.VolumeInspectOptions) (client.VolumeInspectResult, error)
	VolumeCreate(ctx context.Context, options client.VolumeCreateOptions) (client.VolumeCreateResult, error)
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ServerVersion(ctx context.Context, options client.ServerVersionOptions) (client.ServerVersionResult, error)
	// DiskUsage gives volume sizes when the Mover cannot measure a volume itself (Sizes).
	DiskUsage(ctx context.Context, options client.DiskUsageOptions) (client.DiskUsageResult, error)
}

// Service runs backups and restores.
type Service struct {
	Engine      Engine
	Mover       volume.Mover
	Store       backup.Store
	Progress    *progress.Reporter
	ToolVersion string
	// Warn receives warnings (hot backups, skipped sources). May be nil.
	Warn io.Writer
	// Now is the clock (tests may pin it).
	Now func() time.Time
	// Committed, when set, is called with each backup once its manifest is written (the
	// copy to a remote: internal/app starts it there). Its error fails the backup's caller;
	// the backup itself stays complete in the store.
	Committed func(ctx context.Context, project, id string) error
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) warnf(format string, a ...any) {
	if s.Warn != nil {
		fmt.Fprintf(s.Warn, "WARNING: "+format+"\n", a...)
	}
	s.event(fmt.Sprintf("warning: "+format, a...))
}

func (s *Service) event(msg string) {
	if s.Progress != nil {
		s.Progress.Event(msg)
	}
}

// BackupOptions tune a backup.
type BackupOptions struct {
	Reason      string // "manual" when empty
	Compression archive.Compression
	Level       int
	Excludes    []string
	// Stopped are the services the caller stopped for the backup (and starts again
	// itself): the manifest records them as what ran. Backup neither stops nor starts
	// anything; without Stopped it needs NoStop.
	Stopped *project.Running
	// NoStop archives while the services run (a hot backup: may be inconsistent): what
	// runs is recorded as what ran, with a warning.
	NoStop bool
	// Only restricts the backup to sources with these names (empty: all).
	Only []string
	// Sources, when set, are archived instead of the project's own (a restore's safety
	// backup holds exactly what the restore will overwrite).
	Sources []project.Source
	// ExtraFiles are host files to archive too (config files an upgrade will rewrite),
	// unless a source already holds them.
	ExtraFiles []string
	// IncludeHostPaths are host paths to back up as ordinary bind sources
	// (--include-host-path); other host paths are listed in the manifest, not archived.
	IncludeHostPaths []string
	Upgrade          *backup.UpgradeInfo
	// AppVersions are recorded in the manifest as they are (backup.Manifest.AppVersions).
	AppVersions map[string]string
	// Sizes are the sources' sizes measured already (by name, Unknown allowed): the
	// upgrade's plan measured them for its space check. Sources not in it are measured
	// (Sizes) before anything is stopped; the sizes are the progress totals.
	Sizes map[string]int64
	// ColdServices are services whose data is archived only while they are stopped
	// (docker-volume-backup.stop-during-backup): HotPass skips every source one of them
	// mounts, and a two-pass backup records why it archived it in one pass.
	ColdServices []string
	// Policies override the compose file's backup policies by source name
	// (--source-policy; project.SourceOptions.Policies).
	Policies map[string]project.Policy
	// SkipNever leaves out the sources whose policy is never (an upgrade's backup): the
	// manifest lists them as left out, and a restore of it leaves them as they are.
	SkipNever bool
	// ExcludeSources are sources left out by name (--exclude-source); each must exist.
	ExcludeSources []string
	// Full takes every source whole, not incrementally from the last backup.
	Full bool
	// MaxDeltas is how many incremental backups of a source follow a full one (0:
	// DefaultMaxDeltas).
	MaxDeltas int
	// HotDone, when set, is called by HotPass after each source's hot copy (the
	// operations' failpoints inside pass one).
	HotDone func(source string)
	// Omit are paths left out of a source's archives (by source name, patterns as
	// Excludes) that the manifest does not record: a restore of the backup removes them
	// from the target, unlike Excludes, which it keeps (BackupPlan.Omit).
	Omit map[string][]string
}

// BackupPlan is what a backup will archive, worked out before anything stops.
type BackupPlan struct {
	opts      BackupOptions
	srcs      []project.Source
	hostPaths []project.Source
	sizes     map[string]int64
	// leftOut are the sources left out on purpose (policy never, --exclude-source).
	leftOut []backup.LeftOut
	// listed are the project's backups as the first incremental source found them.
	listed *[]backup.Entry

	// Pass one of a two-pass backup (HotPass): the backup begun, and per source the hot
	// archive written and the index of what it read.
	w   *backup.Writer
	hot map[string]*hotSource
	// dumps are the logical dumps AddDump wrote into w.
	dumps []backup.Dump
	// cold are the directory sources HotPass left for the stop (ColdServices), with why.
	cold map[string]string
}

// SetAppVersions sets what the manifest records as the application's versions, read once
// the services are stopped (after pass one, before BackupPlanned).
func (pl *BackupPlan) SetAppVersions(v map[string]string) { pl.opts.AppVersions = v }

// PlanBackup finds the sources a backup archives, refuses a backup dir in or around one
// of them, and measures them (the progress totals). Call it before stopping anything.
func (s *Service) PlanBackup(ctx context.Context, p *project.Project, opts BackupOptions) (*BackupPlan, error) {
	if opts.Compression == "" {
		opts.Compression = archive.Zstd
	}
	if opts.Reason == "" {
		opts.Reason = "manual"
	}
	srcs := opts.Sources
	var hostPaths []project.Source
	var leftOut []backup.LeftOut
	if srcs == nil {
		all, err := p.SourcesWith(ctx, s.Engine, project.SourceOptions{IncludeHostPaths: opts.IncludeHostPaths, Policies: opts.Policies})
		if err != nil {
			return nil, err
		}
		srcs, hostPaths = SplitHostPaths(all)
		if srcs, leftOut, err = LeaveOut(srcs, opts.SkipNever, opts.ExcludeSources); err != nil {
			return nil, err
		}
	}
	// Every source counts, not only those selected: refused before anything stops.
	if err := backup.CheckRoot(s.Store.LocalRoot(), srcs); err != nil {
		return nil, err
	}
	if opts.Sources == nil {
		if len(opts.Only) > 0 {
			srcs = filterSources(srcs, opts.Only)
		}
		srcs = addExtraFiles(p, srcs, opts.ExtraFiles)
	}
	defer s.phase(stepBackup)()
	sizes := s.missingSizes(ctx, srcs, opts.Sizes, opts.Excludes)
	for _, l := range leftOut {
		s.event(l.Name + ": not backed up: " + l.Why)
	}
	return &BackupPlan{opts: opts, srcs: srcs, hostPaths: hostPaths, sizes: sizes, leftOut: leftOut}, nil
}

// Backup archives every data source of the project into a new backup and returns its
// manifest (PlanBackup, then BackupPlanned). Host paths (sockets, devices, system paths:
// see project.HostPathReason) are not archived but listed in the manifest's HostPaths,
// unless opts.IncludeHostPaths names them.
func (s *Service) Backup(ctx context.Context, p *project.Project, opts BackupOptions) (*backup.Manifest, error) {
	pl, err := s.PlanBackup(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	return s.BackupPlanned(ctx, p, pl, opts.Stopped)
}

// BackupPlanned archives what pl found into a new backup. stopped are the services the
// caller stopped (see BackupOptions.Stopped; nil needs NoStop): the caller lists what runs
// right before its stop (after HotPass) and stops all of it. Once every source is archived
// and before the manifest is written, a backup taken stopped fails with ErrNotCold when
// anything of the project runs (stillStopped); pass one's hot copies the manifest does not
// reference are removed (dropUnreferenced).
func (s *Service) BackupPlanned(ctx context.Context, p *project.Project, pl *BackupPlan, stopped *project.Running) (m *backup.Manifest, err error) {
	opts, srcs, hostPaths := pl.opts, pl.srcs, pl.hostPaths
	defer s.phase(stepBackup)()
	running := stopped
	if running == nil {
		if !opts.NoStop {
			return nil, errors.New("backup without the services stopped: stop them first, or ask for a hot backup (internal error)")
		}
		r, err := p.RunningContainers(ctx, s.Engine)
		if err != nil {
			return nil, err
		}
		running = &r
		if !r.Empty() {
			s.warnf("--no-stop: archiving while %s run; files being written may be inconsistent", r.Describe())
		}
	}

	w := pl.w
	if w == nil {
		if w, err = s.Store.Begin(p.Name, s.now()); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	m = &backup.Manifest{
		CreatedAt:    s.now().UTC(),
		ToolVersion:  s.ToolVersion,
		Reason:       opts.Reason,
		Compression:  string(opts.Compression),
		WorkingDir:   p.WorkingDir,
		ComposeFiles: p.ComposeFiles,
		EnvFiles:     p.EnvFiles,
		Profiles:     p.Profiles,
		Excludes:     opts.Excludes,
		Stopped:      !opts.NoStop,
		Running:      running.Services,
		OneOffs:      running.OneOffServices(),
		HostPaths:    hostPaths,
		Upgrade:      opts.Upgrade,
		AppVersions:  opts.AppVersions,
		Dumps:        pl.dumps,
		LeftOut:      pl.leftOut,
	}
	if len(opts.Excludes) > 0 {
		m.ExcludeSyntax = exclude.Syntax
	}
	for _, h := range hostPaths {
		s.event(NotBackedUp(h) + ": " + h.HostPath)
	}
	if v, err := s.Engine.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
		m.EngineVersion, m.EngineAPI = v.Version, v.APIVersion
	}
	if m.Services, err = s.services(ctx, p); err != nil {
		return nil, err
	}
	for i, src := range srcs {
		bs, skip, err := s.archiveSource(ctx, w, p, pl, i, src)
		if err != nil {
			return nil, fmt.Errorf("backing up %s: %w", src.Name, err)
		}
		if skip != "" {
			s.warnf("%s: %s", src.Name, skip)
			continue
		}
		m.Sources = append(m.Sources, bs)
	}
	if !opts.NoStop {
		if err := s.stillStopped(ctx, p); err != nil {
			return nil, err
		}
	}
	if err := dropUnreferenced(w, pl, m); err != nil {
		return nil, err
	}
	if err := w.Commit(m); err != nil {
		return nil, err
	}
	if s.Committed != nil {
		if err := s.Committed(ctx, p.Name, m.ID); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// dropUnreferenced removes from the backup every hot base of pass one that the manifest
// does not reference: pass two archived its source whole (a data path that writes whole
// archives, under the delta's name) or found it gone. The backup then holds the manifest
// and exactly the archives it references, as a one-pass backup does.
func dropUnreferenced(w *backup.Writer, pl *BackupPlan, m *backup.Manifest) error {
	ref := map[string]bool{}
	for _, bs := range m.Sources {
		if bs.Ref != "" {
			continue // another backup's files
		}
		ref[bs.Archive] = true
		if bs.Delta != nil {
			ref[bs.Delta.Archive] = true
		}
	}
	for _, h := range pl.hot {
		if h.skip != "" || h.bs.Archive == "" || ref[h.bs.Archive] {
			continue
		}
		if err := w.Remove(h.bs.Archive); err != nil {
			return fmt.Errorf("removing the unused hot copy %s: %w", h.bs.Archive, err)
		}
	}
	return nil
}

// ErrNotCold is the error of a backup that was to be taken with the project stopped but
// found something of it running once every source was archived.
var ErrNotCold = errors.New("the backup is not cold")

// stillStopped is the check that makes a backup taken stopped (not NoStop) cold: once
// every source is archived, before the manifest is written, nothing of the project may run
// (no container of its services, in the model or not, and no one-off container). The
// caller stopped everything that ran right before the backup; a container running now was
// started since (`docker compose run -d`, `up -d`, a user's `docker start`) and may have
// written while its data was read, so the backup fails (ErrNotCold) and the caller drops
// it and starts again what it stopped, instead of recording it as cold. The rule is
// stricter than needed (a container that mounts no source could not have changed one);
// it is exact for every container still running at the check. A container that started
// and exited again entirely while the sources were read is not seen.
func (s *Service) stillStopped(ctx context.Context, p *project.Project) error {
	now, err := p.RunningContainers(ctx, s.Engine)
	if err != nil {
		return err
	}
	if now.Empty() {
		return nil
	}
	return fmt.Errorf("%s started while the backup read the project's data with everything stopped: it may have written meanwhile, so the backup is not kept; stop it and run the backup again: %w", now.Describe(), ErrNotCold)
}

// SplitHostPaths separates the host paths (never archived) from the data sources.
func SplitHostPaths(srcs []project.Source) (data, host []project.Source) {
	for _, src := range srcs {
		if src.Kind == project.KindHostPath {
			host = append(host, src)
		} else {
			data = append(data, src)
		}
	}
	return data, host
}

// NotBackedUp is how a skipped host path is described to users.
func NotBackedUp(h project.Source) string {
	return "not backed up: host path (" + h.HostReason + ")"
}

func filterSources(srcs []project.Source, names []string) []project.Source {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := srcs[:0]
	for _, s := range srcs {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out
}

func addExtraFiles(p *project.Project, srcs []project.Source, files []string) []project.Source {
next:
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			continue // a config the upgrade will create: nothing to keep
		}
		for _, s := range srcs {
			if s.HostPath != "" && project.Within(f, s.HostPath) {
				continue next
			}
		}
		srcs = append(srcs, project.Source{Name: "file:" + p.RelPath(f), Kind: project.KindProjectFile, HostPath: f})
	}
	return srcs
}

// backupSource archives one source. skip is a reason when the source holds nothing to archive.
//
// record (pass one) is filled with the index of what was read; hot (pass two) is pass one's
// result: the archive written is the delta since, recorded as bs.Delta beside the base.
//
// inc, when it has a base, makes the first (or only) pass incremental: the archive is the
// delta since the base's index (incremental.go); inc also receives the final index.
func (s *Service) backupSource(ctx context.Context, w *backup.Writer, i int, src project.Source, dir string, opts BackupOptions, size int64, record *archive.Index, hot *hotSource, inc *incSource) (bs backup.Source, skip string, err error) {
	bs.Source = src
	target, _ := TargetOf(src, dir) // a project file is archived on this host below
	switch src.Kind {
	case project.KindVolume, project.KindAnonymous:
		vi, err := s.Engine.VolumeInspect(ctx, src.VolumeName, client.VolumeInspectOptions{})
		if err != nil {
			if isNotFound(err) {
				return bs, "volume " + src.VolumeName + " does not exist yet: nothing to back up", nil
			}
			return bs, "", err
		}
		bs.Driver, bs.DriverOpts, bs.Labels = vi.Volume.Driver, vi.Volume.Options, vi.Volume.Labels
	case project.KindBindDir, project.KindBindFile:
		if _, err := os.Lstat(src.HostPath); errors.Is(err, os.ErrNotExist) {
			return bs, "bind source " + src.HostPath + " does not exist: nothing to back up", nil
		}
	}

	bs.Archive = project.ArchiveBase(i, src) + opts.Compression.Ext()
	name := bs.Archive
	var since *archive.Index
	if hot != nil {
		name = project.ArchiveBase(i, src) + ".delta" + opts.Compression.Ext()
		since = hot.idx
	} else if inc.hasBase() {
		bs.Archive = project.ArchiveBase(i, src) + ".incr" + opts.Compression.Ext()
		name, since = bs.Archive, inc.base.idx
	}
	a, err := w.Create(name)
	if err != nil {
		return bs, "", err
	}
	// Pass two (the changes since pass one) has no measured total: one task, total unknown.
	taskName, total := src.Name, size
	if hot != nil {
		taskName, total = src.Name+" (changes)", 0
	}
	task := s.task(taskName, src.Name, total)
	var st archive.Stats
	final := finalIndex(src, record)
	inc.setFinal(final)
	if src.Kind == project.KindProjectFile {
		st, err = hostBackup(ctx, src.HostPath, fileBeneath(src.HostPath, dir), a, opts.Compression, opts.Level, task.Add)
	} else {
		st, err = s.Mover.Backup(ctx, target, a, volume.BackupOptions{
			Compression: opts.Compression, Level: opts.Level, Excludes: append(slices.Clone(opts.Excludes), opts.Omit[src.Name]...), Progress: task.Add,
			Record: record, Since: since, Final: final,
		})
	}
	task.Done(err)
	if err != nil {
		a.Abort()
		return bs, "", err
	}
	sum, size, err := a.Commit()
	if err != nil {
		return bs, "", err
	}
	if hot != nil && st.Delta {
		bs = hot.bs
		bs.Delta = &backup.Delta{Archive: name, SHA256: sum, ArchiveSize: size,
			Bytes: st.Bytes, Files: st.Files, Entries: st.Entries, Deleted: st.Deleted, Plain: a.Plain()}
		bs.Index, err = keepIndex(w, i, src, final, opts.NoStop)
		return bs, "", err
	}
	if hot != nil {
		// Pass two wrote a whole archive: the source's file system cannot show every change
		// by the files' times (st.OnePass says why), or pass two took a data path that writes
		// whole archives (the archive API, after pass one took another). That archive, under
		// the delta's name, is the source's only one; BackupPlanned removes the hot base
		// before it commits (dropUnreferenced).
		if st.OnePass != "" {
			s.warnf("%s: archived in one pass, stopped: %s", src.Name, st.OnePass)
			bs.OnePass = st.OnePass
		} else {
			s.warnf("%s: the changes could not be archived as a delta (data path %s): archived whole", src.Name, s.dataPath())
		}
		bs.Archive = name
	} else if inc.hasBase() {
		s.based(&bs, inc, st)
	}
	bs.SHA256, bs.ArchiveSize, bs.Plain = sum, size, a.Plain()
	bs.Entries, bs.Files, bs.Bytes = st.Entries, st.Files, st.Bytes
	bs.Index, err = keepIndex(w, i, src, final, opts.NoStop)
	return bs, "", err
}

// dataPath describes the data paths the Mover took so far, when it says.
func (s *Service) dataPath() string {
	if dp, ok := s.Mover.(interface{ DataPath() string }); ok {
		return dp.DataPath()
	}
	return "unknown"
}

// services records the image of each service: reference, ID, digests, version label,
// and the config hash of its container.
func (s *Service) services(ctx context.Context, p *project.Project) ([]backup.Service, error) {
	cs, err := project.Containers(ctx, s.Engine, p.Name)
	if err != nil {
		return nil, err
	}
	order, err := p.Order()
	if err != nil {
		return nil, err
	}
	var out []backup.Service
	for _, name := range order {
		svc := backup.Service{Name: name, Image: p.Services[name].Image}
		for _, c := range cs {
			if c.Labels[project.LabelService] == name {
				svc.ImageID = c.ImageID
				if !strings.HasPrefix(c.Image, "sha256:") {
					svc.RunningRef = c.Image
				}
				svc.ConfigHash = c.Labels[project.LabelConfigHash]
				break
			}
		}
		ref := svc.ImageID
		if ref == "" {
			ref = svc.Image
		}
		if ref != "" {
			if ii, err := s.Engine.ImageInspect(ctx, ref); err == nil {
				svc.ImageID = ii.ID
				svc.RepoDigests = ii.RepoDigests
				if ii.Config != nil {
					svc.Version = ii.Config.Labels["org.opencontainers.image.version"]
				}
			}
		}
		out = append(out, svc)
	}
	return out, nil
}

func isNotFound(err error) bool {
	type notFound interface{ NotFound() }
	var nf notFound
	if errors.As(err, &nf) {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "no such")
}

// hostBackup archives a file the plugin itself can read (the project's compose and env
// files), opened beneath b at this moment.
func hostBackup(ctx context.Context, path string, b *fsaccess.Beneath, w io.Writer, c archive.Compression, level int, progress func(int64)) (archive.Stats, error) {
	cw, err := archive.Compress(w, c, level)
	if err != nil {
		return archive.Stats{}, err
	}
	st, err := archive.WriteTar(ctx, cw, path, archive.WriteOptions{Progress: progress, Beneath: b})
	if cerr := cw.Close(); err == nil {
		err = cerr
	}
	return st, err
}

// hostRestore makes a host file equal to its archive, written beneath b at this moment.
func hostRestore(ctx context.Context, path string, b *fsaccess.Beneath, r io.Reader, c archive.Compression, progress func(int64)) (archive.Stats, error) {
	dr, err := archive.Decompress(r, c)
	if err != nil {
		return archive.Stats{}, err
	}
	defer dr.Close()
	return archive.Extract(ctx, dr, path, archive.ExtractOptions{SameOwner: os.Geteuid() == 0, Progress: progress, Beneath: b})
}
