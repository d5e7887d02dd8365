package snapshot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/client"
)

// RestoreOptions tune a restore.
type RestoreOptions struct {
	// ID of the backup; "" is the newest complete one.
	ID string
	// Sources restricts the restore to these source names (empty: all).
	Sources []string
	// NoSafetyBackup skips the safety backup of the current data.
	NoSafetyBackup bool
	// Stopped, when set, says the caller already stopped these services and starts them
	// itself afterwards (the upgrade's rollback does this).
	Stopped *project.Running
	// Compression of the safety backup.
	Compression archive.Compression
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Backup   *backup.Manifest
	Restored []string
	// SafetyID is the backup of the data as it was before the restore ("" when skipped).
	SafetyID string
	// Started are the services started again afterwards (what was running before).
	Started []string
}

// ErrVerify wraps a verification failure: the restore refused and touched nothing.
var ErrVerify = errors.New("backup failed verification")

// Restore makes the project's data sources equal to a backup. Order of work:
// verify the backup (refuse on failure, before touching anything); refuse a backup dir
// that lies in or holds a source (backup.CheckRoot); stop what runs;
// take a safety backup of the data about to be replaced; restore each source
// (parents before nested paths); if that fails, put the safety backup back; start what
// was running.
func (s *Service) Restore(ctx context.Context, p *project.Project, opts RestoreOptions) (res *RestoreResult, err error) {
	entry, err := s.Store.Get(p.Name, opts.ID)
	if err != nil {
		return nil, err
	}
	s.event("verifying backup " + entry.ID)
	if err := s.Store.Verify(entry, nil); err != nil {
		return nil, fmt.Errorf("%w: %v; nothing was changed", ErrVerify, err)
	}
	m := entry.Manifest
	srcs, err := selectSources(m, opts.Sources)
	if err != nil {
		return nil, err
	}
	res = &RestoreResult{Backup: m}
	// The backup dir may neither lie in nor hold what the restore overwrites, nor any
	// source of the project as it is now (the safety backup archives those): refused
	// before anything stops.
	cur, err := p.Sources(ctx, s.Engine)
	if err != nil {
		return nil, err
	}
	if err := backup.CheckRoot(s.Store.Root, append(cur, backup.ManifestSources(srcs)...)); err != nil {
		return nil, err
	}

	running := opts.Stopped
	if running == nil {
		r, err := p.RunningContainers(ctx, s.Engine)
		if err != nil {
			return nil, err
		}
		running = &r
		if !r.Empty() {
			res.Started = r.Services
			restart, serr := s.stopAll(ctx, p, r)
			defer restart(&err)
			if serr != nil {
				return nil, serr
			}
		}
	}

	var safety *backup.Manifest
	if !opts.NoSafetyBackup {
		names := make([]string, 0, len(srcs))
		for _, src := range srcs {
			names = append(names, src.Name)
		}
		s.event("safety backup of the current data")
		safety, err = s.Backup(ctx, p, BackupOptions{
			Reason: "pre-restore", Stopped: running, Only: names, Compression: opts.Compression,
		})
		if err != nil {
			return nil, fmt.Errorf("safety backup failed, nothing was restored: %w", err)
		}
		res.SafetyID = safety.ID
	}

	for _, src := range srcs {
		if err := s.restoreSource(ctx, entry, src); err != nil {
			err = fmt.Errorf("restoring %s: %w", src.Name, err)
			if safety != nil {
				s.event("restore failed; putting the data back from safety backup " + safety.ID)
				back, berr := s.Store.Get(p.Name, safety.ID)
				if berr == nil {
					for _, ss := range sortedSources(back.Manifest.Sources) {
						berr = errors.Join(berr, s.restoreSource(context.WithoutCancel(ctx), back, ss))
					}
				}
				if berr != nil {
					return res, fmt.Errorf("%w; putting back the safety backup %s also failed: %v", err, safety.ID, berr)
				}
				return res, fmt.Errorf("%w (the data was put back from safety backup %s)", err, safety.ID)
			}
			return res, err
		}
		res.Restored = append(res.Restored, src.Name)
	}
	return res, nil
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

func (s *Service) restoreSource(ctx context.Context, e backup.Entry, src backup.Source) error {
	f, err := e.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	comp, err := archive.ParseCompression(e.Manifest.Compression)
	if err != nil {
		comp = archive.DetectCompression(src.Archive)
	}
	task := s.task("restore "+src.Name, src.Bytes)
	var st archive.Stats
	switch src.Kind {
	case project.KindProjectFile:
		st, err = hostRestore(ctx, src.HostPath, f, comp, task.Add)
	case project.KindVolume, project.KindAnonymous:
		if err = s.ensureVolume(ctx, src); err == nil {
			st, err = s.Mover.Restore(ctx, volume.Target{Kind: "volume", VolumeName: src.VolumeName}, f, volume.RestoreOptions{Compression: comp, Progress: task.Add})
		}
	default:
		st, err = s.Mover.Restore(ctx, volume.Target{Kind: "bind", HostPath: src.HostPath, IsFile: src.Kind == project.KindBindFile}, f, volume.RestoreOptions{Compression: comp, Progress: task.Add})
	}
	task.Done(err)
	if err != nil {
		return err
	}
	if st.Entries != src.Entries || st.Bytes != src.Bytes {
		return fmt.Errorf("restored %d entries / %d bytes, the manifest says %d / %d", st.Entries, st.Bytes, src.Entries, src.Bytes)
	}
	return nil
}

// ensureVolume recreates a missing volume with its original driver, options and labels.
// The compose config-hash label is left off: compose accepts a volume that carries the
// project and volume labels and no hash, but deletes one whose hash disagrees.
func (s *Service) ensureVolume(ctx context.Context, src backup.Source) error {
	_, err := s.Engine.VolumeInspect(ctx, src.VolumeName, client.VolumeInspectOptions{})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return err
	}
	labels := maps.Clone(src.Labels)
	delete(labels, project.LabelConfigHash)
	s.event("creating volume " + src.VolumeName)
	_, err = s.Engine.VolumeCreate(ctx, client.VolumeCreateOptions{
		Name: src.VolumeName, Driver: src.Driver, DriverOpts: src.DriverOpts, Labels: labels,
	})
	return err
}
