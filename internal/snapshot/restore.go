package snapshot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/exclude"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
)

// RestoreOptions tune a restore.
type RestoreOptions struct {
	// ID of the backup; "" is the newest complete one.
	ID string
	// Prestaged is a plan of the same restore made before the stop, whose sources Prestage
	// staged: the stage of each source planned alike moves to this restore (TakeStaged).
	Prestaged *RestorePlan
	// Sources restricts the restore to these source names (empty: all).
	Sources []string
	// NoSafetyBackup skips the safety backup of the current data.
	NoSafetyBackup bool
	// Stopped are the services the caller stopped for the restore and starts again itself
	// afterwards (the upgrade's rollback does this): the safety backup records them as
	// what ran. Restore never stops or starts anything.
	Stopped *project.Running
	// Compression of the safety backup.
	Compression archive.Compression
	// Checked says the caller checked the archives' hashes (Store.CheckHashes) before
	// anything stopped: the restore does not check them again.
	Checked bool
	// ToRecordedPaths writes each source to the host path or volume the backup recorded,
	// not to the current project's source of the same name. A rollback, which brings the
	// backup's compose files back with the data, and putting a safety backup back use it.
	ToRecordedPaths bool
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Backup   *backup.Manifest
	Restored []string
	// Skipped are the backup's sources left alone, each "NAME: why".
	Skipped []string
	// SafetyID is the backup of the data as it was before the restore ("" when skipped).
	SafetyID string
}

// ErrVerify wraps a verification failure: the restore refused and touched nothing.
var ErrVerify = api.ErrVerify

// ErrRefused means a restore was refused before anything was changed (a moved source,
// volume options the project does not declare, ...).
var ErrRefused = api.ErrRefused

// RestoreItem is one source of a backup and where a restore writes it.
type RestoreItem struct {
	From backup.Source  // as the backup recorded it
	To   project.Source // where it goes: the current project's source of that name, or the recorded one
	// Driver and DriverOpts create a missing volume: as the compose file declares the
	// volume, never from the manifest alone.
	Driver     string
	DriverOpts map[string]string
	// Staged is what Prestage staged in the target before the stop (prestage.go).
	Staged *diffrestore.Staged
}

// RestorePlan is what a restore will write, worked out before anything stops.
type RestorePlan struct {
	Entry backup.Entry
	// Dir is the project dir: single files inside it are written confined to it (TargetOf).
	Dir   string
	Items []RestoreItem // parents before the paths inside them
	// Skipped are the backup's sources left alone, each "NAME: why".
	Skipped []string
	// TargetSizes are the sizes of Targets as they are now, set by MeasureTargets before
	// anything stops: the safety backup's progress totals.
	TargetSizes map[string]int64
	// Ready, when set, is the check of the archives (StartCheck): every write of
	// RestorePlanned waits for it, so it may still run while the restore gets ready.
	Ready func() error
}

// StartCheck checks, in the background, the archives a restore of the named sources of
// entry reads (all when names is empty) against the manifest's hashes (Store.CheckHashes).
// It overlaps the work that changes nothing: planning, and starting the helper container,
// which waits for the go-ahead. The returned func waits for the check; its error wraps
// ErrVerify. A backup that is not complete fails at once (no manifest to plan from). Wait
// for it before anything changes that the restore cannot take back unasked: stopping
// services, a safety backup.
func (s *Service) StartCheck(entry backup.Entry, names []string) (func() error, error) {
	if err := entry.CheckComplete(); err != nil {
		return nil, fmt.Errorf("%w: %v; nothing was changed", ErrVerify, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Store.CheckHashes(entry, names) }()
	return sync.OnceValue(func() error {
		return CheckError(<-done)
	}), nil
}

// CheckError is the error of a failed check made before anything changed
// (Store.CheckHashes): a missing or wrong identity for an encrypted backup as it is (it
// wraps api.ErrNoIdentity), any other failure wrapping ErrVerify. nil stays nil.
func CheckError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, api.ErrNoIdentity):
		return fmt.Errorf("%w; nothing was changed", err)
	}
	return fmt.Errorf("%w: %v; nothing was changed", ErrVerify, err)
}

// MeasureTargets measures what a safety backup of plan will archive (Targets), with the
// excludes that backup will use. Call it before stopping the services: measuring reads
// metadata of every file.
func (s *Service) MeasureTargets(ctx context.Context, plan *RestorePlan) {
	if !s.showsProgress() {
		return
	}
	plan.TargetSizes = s.Sizes(ctx, plan.Targets(), manifestExcludes(plan.Entry.Manifest))
}

// Names are the names of the sources the plan restores.
func (pl *RestorePlan) Names() []string {
	out := make([]string, 0, len(pl.Items))
	for _, it := range pl.Items {
		out = append(out, it.From.Name)
	}
	return out
}

// Targets are the sources the plan will overwrite, as they are now (what a safety backup
// must hold). A file that does not exist has nothing to keep.
func (pl *RestorePlan) Targets() []project.Source {
	out := []project.Source{}
	for _, it := range pl.Items {
		if it.To.Kind == project.KindProjectFile {
			if _, err := os.Lstat(it.To.HostPath); err != nil {
				continue
			}
		}
		out = append(out, it.To)
	}
	return out
}

// Restore makes the project's data sources equal to a backup. Order of work: check the
// backup's archives against the manifest's hashes (in the background, unless the caller
// did: opts.Checked) and plan where each source goes, the backup dir guard included
// (refuse on failure, before touching anything); take a safety backup of everything about
// to be replaced; restore each source (parents before nested paths); if that fails, put
// the safety backup back. The caller has stopped what runs (opts.Stopped) and starts it
// again, unless the safety backup could not be put back: the services would run on mixed data.
// The restore command journals the same steps through internal/upgrade; this form serves
// callers that journal themselves (the rollback).
func (s *Service) Restore(ctx context.Context, p *project.Project, opts RestoreOptions) (res *RestoreResult, err error) {
	entry, err := s.Store.Get(p.Name, opts.ID)
	if err != nil {
		return nil, err
	}
	ready := func() error { return nil }
	if opts.Checked {
		if err := entry.CheckComplete(); err != nil {
			return nil, fmt.Errorf("%w: %v; nothing was changed", ErrVerify, err)
		}
	} else {
		s.event("checking backup " + entry.ID)
		if ready, err = s.StartCheck(entry, opts.Sources); err != nil {
			return nil, err
		}
	}
	plan, err := s.PlanRestore(ctx, p, entry, opts)
	if err != nil {
		return nil, errors.Join(err, ready())
	}
	plan.Ready = ready
	plan.TakeStaged(opts.Prestaged)
	res = &RestoreResult{Backup: entry.Manifest, Skipped: plan.Skipped}
	if !opts.NoSafetyBackup {
		s.MeasureTargets(ctx, plan)
	}
	running := opts.Stopped
	if running == nil {
		running = &project.Running{}
	}

	var safety *backup.Manifest
	if !opts.NoSafetyBackup {
		if err := ready(); err != nil {
			return nil, err
		}
		if safety, err = s.SafetyBackup(ctx, p, plan, running, opts.Compression); err != nil {
			return nil, fmt.Errorf("safety backup failed, nothing was restored: %w", err)
		}
		res.SafetyID = safety.ID
	}

	res.Restored, err = s.RestorePlanned(ctx, plan)
	if err != nil && safety != nil {
		s.event("restore failed; putting the data back from safety backup " + safety.ID)
		if berr := s.PutBack(context.WithoutCancel(ctx), p, safety.ID); berr != nil {
			return res, fmt.Errorf("%w; putting back the safety backup %s also failed: %v", err, safety.ID, berr)
		}
		return res, fmt.Errorf("%w (the data was put back from safety backup %s)", err, safety.ID)
	}
	return res, err
}

// SafetyBackup archives everything plan will overwrite, as it is now (reason pre-restore),
// with the excludes of the backup being restored: what they match is not overwritten. It is
// the one-pass form (PlanSafety, then BackupPlanned): everything archived with the services
// stopped.
func (s *Service) SafetyBackup(ctx context.Context, p *project.Project, plan *RestorePlan, stopped *project.Running, c archive.Compression) (*backup.Manifest, error) {
	pl, err := s.PlanSafety(ctx, p, plan, c, nil)
	if err != nil {
		return nil, err
	}
	if stopped == nil {
		stopped = &project.Running{} // nothing ran
	}
	return s.BackupPlanned(ctx, p, pl, stopped)
}

// PlanSafety plans the safety backup of what plan will overwrite (reason pre-restore, the
// excludes of the backup being restored), before anything stops. A caller that takes it in
// two passes runs HotPass on it while the services still run, then BackupPlanned once it
// stopped them: the changes since pass one only, exact under the conditions of two-pass
// backups (BackupPlanned falls back to one pass per source where they do not hold; cold are
// the stop-during-backup services, whose sources get no hot pass). Abort drops a plan
// HotPass began and BackupPlanned did not commit.
func (s *Service) PlanSafety(ctx context.Context, p *project.Project, plan *RestorePlan, c archive.Compression, cold []string) (*BackupPlan, error) {
	s.event("safety backup of the current data")
	return s.PlanBackup(ctx, p, BackupOptions{
		Reason: "pre-restore", Sources: plan.Targets(), Compression: c,
		Excludes: manifestExcludes(plan.Entry.Manifest), Sizes: plan.TargetSizes, ColdServices: cold,
	})
}

// PutBack restores a safety backup onto the paths and volumes it was taken of. The caller
// has stopped the services.
func (s *Service) PutBack(ctx context.Context, p *project.Project, safetyID string) error {
	e, err := s.Store.Get(p.Name, safetyID)
	if err != nil {
		return err
	}
	if e.Status != backup.StatusComplete {
		return fmt.Errorf("safety backup %s is %s: %s", safetyID, e.Status, e.Problem)
	}
	plan, err := s.PlanRestore(ctx, p, e, RestoreOptions{ToRecordedPaths: true})
	if err != nil {
		return err
	}
	_, err = s.RestorePlanned(ctx, plan)
	return err
}

// RestorePlanned writes every item of plan, in order, and returns the names restored.
func (s *Service) RestorePlanned(ctx context.Context, plan *RestorePlan) ([]string, error) {
	defer s.phase(stepRestore)()
	var done []string
	for _, it := range plan.Items {
		if err := s.restoreItem(ctx, plan.Entry, plan.Dir, it, plan.Ready); err != nil {
			return done, fmt.Errorf("restoring %s: %w", it.From.Name, err)
		}
		done = append(done, it.From.Name)
	}
	return done, nil
}

// PlanRestore works out where each selected source of the backup goes, and refuses,
// before anything is changed, what would write where it should not:
//
//   - a source goes to the current project's source of the same name; one the project no
//     longer has (no source of that name nor a mount at the same service and target) is
//     skipped and reported; host paths ("host-path" sources) are never restored;
//   - a source whose path or volume name moved (the name, or a service's mount, now leads
//     elsewhere) is refused naming both, unless opts.ToRecordedPaths writes the recorded one;
//   - a single-file archive never goes onto a directory, nor a directory onto a file;
//   - a backup dir that lies in or holds a current or recorded source is refused
//     (backup.CheckRoot: the exact sync would delete it);
//   - a volume that has to be created is created with the driver and options the compose
//     file declares; a backup that records other ones is refused.
func (s *Service) PlanRestore(ctx context.Context, p *project.Project, entry backup.Entry, opts RestoreOptions) (*RestorePlan, error) {
	m := entry.Manifest
	srcs, err := selectSources(m, opts.Sources)
	if err != nil {
		return nil, err
	}
	// The project as the backup saw it: host paths the backup opted in are data here too.
	current, err := p.SourcesWith(ctx, s.Engine, project.SourceOptions{IncludeHostPaths: m.IncludedHostPaths()})
	if err != nil {
		return nil, err
	}
	// The backup dir may neither lie in nor hold a source of the project as it is now (the
	// safety backup archives those) nor one the backup recorded: refused before anything stops.
	if err := backup.CheckRoot(s.Store.LocalRoot(), append(current, backup.ManifestSources(srcs)...)); err != nil {
		return nil, err
	}
	plan := &RestorePlan{Entry: entry, Dir: p.WorkingDir}
	var refused []string
	moved := false
	for _, src := range srcs {
		if src.Kind == project.KindHostPath {
			plan.Skipped = append(plan.Skipped, src.Name+": a host path, never restored")
			continue
		}
		to, found, isMoved := matchSource(p, current, src)
		if found && to.Kind == project.KindHostPath {
			plan.Skipped = append(plan.Skipped, src.Name+": "+to.HostPath+" is a host path now ("+to.HostReason+"), never restored")
			continue
		}
		switch {
		case isMoved && !opts.ToRecordedPaths:
			moved = true
			refused = append(refused, fmt.Sprintf("%s: the backup holds %s, the project now uses %s", src.Name, where(src.Source), where(to)))
			continue
		case opts.ToRecordedPaths || (!found && src.Kind == project.KindProjectFile):
			to = src.Source
		case !found:
			plan.Skipped = append(plan.Skipped, src.Name+": not in the project any more (nothing mounts it), not restored")
			continue
		}
		if src.IsFile() != to.IsFile() {
			refused = append(refused, fmt.Sprintf("%s: the backup holds a %s, %s is a %s", src.Name, src.Kind, where(to), to.Kind))
			continue
		}
		if src.Base != nil { // an incremental source: every link of its chain must be there
			if _, err := s.Store.Chain(entry, src); err != nil {
				return nil, fmt.Errorf("%w: %v; nothing was changed", ErrVerify, err)
			}
		}
		it := RestoreItem{From: src, To: to}
		if to.Kind == project.KindVolume || to.Kind == project.KindAnonymous {
			if why, err := s.volumeDriver(ctx, p, &it); err != nil {
				return nil, err
			} else if why != "" {
				refused = append(refused, src.Name+": "+why)
				continue
			}
		}
		plan.Items = append(plan.Items, it)
	}
	plan.Skipped = append(plan.Skipped, leftOutSkipped(m, opts.Sources, s.event)...)
	if len(refused) > 0 {
		hint := ""
		if moved {
			hint = "; to write the paths and volumes the backup recorded instead, add --to-recorded-paths"
		}
		return nil, fmt.Errorf("%w: %s%s", ErrRefused, strings.Join(refused, "; "), hint)
	}
	sort.SliceStable(plan.Items, func(i, j int) bool { return len(plan.Items[i].To.HostPath) < len(plan.Items[j].To.HostPath) })
	return plan, nil
}

// matchSource finds the current source a backup source belongs to: the one of the same
// name, else (a bind or volume moved in the compose file) one mounted at the same service
// and target. moved tells whether it lives somewhere else than recorded. Anonymous
// volumes have no name of their own: the one mounted now is theirs. A project file not
// among the current sources is a file of the project dir (a config an upgrade merged).
func matchSource(p *project.Project, current []project.Source, src backup.Source) (to project.Source, found, moved bool) {
	for _, c := range current {
		if c.Name == src.Name {
			return c, true, c.Kind != project.KindAnonymous && (c.HostPath != src.HostPath || c.VolumeName != src.VolumeName)
		}
	}
	if src.Kind == project.KindProjectFile {
		rel := strings.TrimPrefix(src.Name, "file:")
		if !filepath.IsAbs(rel) {
			rel = filepath.Join(p.WorkingDir, filepath.FromSlash(rel))
		}
		to = project.Source{Name: src.Name, Kind: project.KindProjectFile, HostPath: rel}
		return to, true, rel != src.HostPath
	}
	for _, c := range current {
		for _, cm := range c.Mounts {
			for _, sm := range src.Mounts {
				if cm.Service == sm.Service && cm.Target == sm.Target && c.Kind != project.KindProjectFile {
					return c, true, true
				}
			}
		}
	}
	return project.Source{}, false, false
}

func where(s project.Source) string {
	if s.VolumeName != "" {
		return "volume " + s.VolumeName
	}
	return s.HostPath
}

// volumeDriver sets how it.To is created when it is missing: as the compose file declares
// the volume (driver "local" without options for one it does not declare). A missing
// volume whose backup records another driver or other options is refused (why says so):
// the manifest alone never decides what a volume mounts. An existing volume is restored
// into as it is.
func (s *Service) volumeDriver(ctx context.Context, p *project.Project, it *RestoreItem) (why string, err error) {
	driver, opts, external := "local", map[string]string(nil), false
	if cfg, ok := p.Volumes[it.To.VolumeKey]; ok && it.To.Kind == project.KindVolume {
		if cfg.Driver != "" {
			driver = cfg.Driver
		}
		opts, external = cfg.DriverOpts, bool(cfg.External)
	}
	it.Driver, it.DriverOpts = driver, opts
	if _, err := s.Engine.VolumeInspect(ctx, it.To.VolumeName, client.VolumeInspectOptions{}); err == nil {
		return "", nil
	} else if !isNotFound(err) {
		return "", err
	}
	recDriver := it.From.Driver
	if recDriver == "" {
		recDriver = "local"
	}
	if external || (recDriver == driver && maps.Equal(it.From.DriverOpts, opts)) {
		return "", nil
	}
	return fmt.Sprintf("volume %s is missing and the backup records driver %q with options %v, but the compose file declares driver %q with options %v; it is only created as the compose file declares it",
		it.To.VolumeName, recDriver, it.From.DriverOpts, driver, opts), nil
}

func selectSources(m *backup.Manifest, names []string) ([]backup.Source, error) {
	if len(names) == 0 {
		return sortedSources(m.Sources), nil
	}
	var out []backup.Source
	for _, n := range names {
		src, ok := m.Source(n)
		if !ok {
			var have []string
			for _, s := range m.Sources {
				have = append(have, s.Name)
			}
			return nil, fmt.Errorf("backup %s has no source %q (it has: %s)", m.ID, n, strings.Join(have, ", "))
		}
		out = append(out, src)
	}
	return sortedSources(out), nil
}

// sortedSources orders sources so a directory is restored before paths inside it.
func sortedSources(in []backup.Source) []backup.Source {
	out := append([]backup.Source(nil), in...)
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].HostPath) < len(out[j].HostPath) })
	return out
}

// restoreItem writes one source: its full archive (the chain's first, Store.Chain, for an
// incremental source), then each delta in order (a two-pass source's own delta, the later
// links of the chain and theirs).
func (s *Service) restoreItem(ctx context.Context, e backup.Entry, dir string, it RestoreItem, ready func() error) error {
	links := []backup.Link{{Entry: e, Source: it.From}}
	if it.From.Base != nil {
		var err error
		if links, err = s.Store.Chain(e, it.From); err != nil {
			return err
		}
	}
	chain := links
	e, it.From = links[0].Entry, links[0].Source
	src, to := it.From, it.To
	comp, err := archive.ParseCompression(e.Manifest.Compression)
	if err != nil {
		comp = archive.DetectCompression(src.Archive)
	}
	if ready == nil {
		ready = func() error { return nil }
	}
	ropts := volume.RestoreOptions{Compression: comp, Excludes: manifestExcludes(e.Manifest), Ready: ready}
	t, ok := TargetOf(to, dir)
	// The differential restore reads the whole chain at random; the full restore extracts
	// it link by link.
	if done, err := s.tryDiff(ctx, chain, it, t, ok, ropts); done || err != nil {
		return err
	}
	// The full restore: the base archive is opened only now, a differential one never
	// needs its stream.
	f, err := e.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	task := s.task("restore "+src.Name, src.Name, src.Bytes)
	ropts.Progress = task.Add
	var st archive.Stats
	switch {
	case to.Kind == project.KindProjectFile:
		if err = ready(); err == nil {
			st, err = hostRestore(ctx, to.HostPath, fileBeneath(to.HostPath, dir), f, comp, task.Add)
		}
	case !ok:
		err = fmt.Errorf("%s is a %s: docker-maim never restores one", to.Name, to.Kind)
	case t.Kind == volume.KindVolume:
		if err = s.ensureVolume(ctx, it, ready); err == nil {
			st, err = s.Mover.Restore(ctx, t, f, ropts)
		}
	default:
		st, err = s.Mover.Restore(ctx, t, f, ropts)
	}
	if rerr := ready(); rerr != nil && err == nil {
		err = rerr // a Mover that did not wait for it: the check still decides
	}
	task.Done(err)
	if err != nil {
		return err
	}
	if st.Entries != src.Entries || st.Bytes != src.Bytes {
		return fmt.Errorf("restored %d entries / %d bytes, the manifest says %d / %d", st.Entries, st.Bytes, src.Entries, src.Bytes)
	}
	for i, l := range links {
		if i > 0 { // an incremental link: its archive is a delta over what the links before wrote
			inc := l.Source
			inc.Delta = nil
			if err := s.restoreDelta(ctx, l.Entry, it, inc, ok, t, ropts); err != nil {
				return err
			}
		}
		if l.Source.Delta != nil {
			if err := s.restoreDelta(ctx, l.Entry, it, l.Source.DeltaSource(), ok, t, ropts); err != nil {
				return err
			}
		}
	}
	return nil
}

// restoreDelta applies the delta archive d (a two-pass source's delta, or an incremental
// source's archive) over what was restored just before.
func (s *Service) restoreDelta(ctx context.Context, e backup.Entry, it RestoreItem, d backup.Source, ok bool, t volume.Target, ropts volume.RestoreOptions) error {
	if !ok || it.To.Kind == project.KindProjectFile {
		return fmt.Errorf("%s: a two-pass archive for a %s", it.From.Name, it.To.Kind)
	}
	f, err := e.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	task := s.task("restore "+it.From.Name+" (changes)", it.From.Name, d.Bytes)
	ropts.Progress, ropts.Delta = task.Add, true
	st, err := s.Mover.Restore(ctx, t, f, ropts)
	task.Done(err)
	if err != nil {
		return err
	}
	if st.Entries != d.Entries || st.Bytes != d.Bytes {
		return fmt.Errorf("applied %d entries / %d bytes of changes, the manifest says %d / %d", st.Entries, st.Bytes, d.Entries, d.Bytes)
	}
	return nil
}

// ensureVolume creates a missing volume, once ready passed, with the driver and options
// the compose file declares and the backup's labels. The compose config-hash label is left off: compose
// accepts a volume that carries the project and volume labels and no hash, but deletes one
// whose hash disagrees.
func (s *Service) ensureVolume(ctx context.Context, it RestoreItem, ready func() error) error {
	name := it.To.VolumeName
	_, err := s.Engine.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return err
	}
	if err := ready(); err != nil {
		return err
	}
	labels := maps.Clone(it.From.Labels)
	delete(labels, project.LabelConfigHash)
	s.event("creating volume " + name)
	_, err = s.Engine.VolumeCreate(ctx, client.VolumeCreateOptions{
		Name: name, Driver: it.Driver, DriverOpts: it.DriverOpts, Labels: labels,
	})
	return err
}

// manifestExcludes are a backup's exclude patterns in .dockerignore syntax: those of a
// backup an older docker-maim made (no ExcludeSyntax) translated, so a restore keeps
// what that backup left out.
func manifestExcludes(m *backup.Manifest) []string {
	if m.ExcludeSyntax == "" {
		return exclude.FromLegacy(m.Excludes)
	}
	return m.Excludes
}
