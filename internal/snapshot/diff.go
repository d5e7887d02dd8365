package snapshot

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/moby/client"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// tryDiff restores the directory source of it differentially (internal/diffrestore: only
// what differs from the backup's final index is rewritten, when that is exact) and reports
// whether it did. links is the source's chain (Store.Chain, one link for a backup that is
// not incremental): the newest link's index says what the tree must be, and each path's
// content is read from the newest archive of the chain that holds it. It does not when the backup has no index of the source, its archives are
// not local zstd files, the Mover cannot (volume.DiffRestorer), or the differential restore
// itself finds its conditions do not hold (a foreign, empty or missing target, a file system
// that may hide changes): then nothing was touched, an event says why, and the caller
// restores in full.
func (s *Service) tryDiff(ctx context.Context, links []backup.Link, it RestoreItem, t volume.Target, ok bool, ropts volume.RestoreOptions) (bool, error) {
	// The newest link's index is the tree the restore gives back.
	e, src := links[len(links)-1].Entry, links[len(links)-1].Source
	dr, can := s.Mover.(volume.DiffRestorer)
	if src.Index == nil || !can || !ok || it.To.Kind == project.KindProjectFile || t.IsFile {
		return false, nil
	}
	full := func(why string) (bool, error) {
		s.event(src.Name + ": restored in full: " + why)
		return false, nil
	}
	if ropts.Compression != archive.Zstd {
		return full("its archives are not zstd (not seekable)")
	}
	if t.Kind == volume.KindVolume {
		if _, err := s.Engine.VolumeInspect(ctx, t.VolumeName, client.VolumeInspectOptions{}); err != nil {
			return full("volume " + t.VolumeName + " does not exist")
		}
	}
	// The archives, oldest first: each link's own, then its two-pass delta. A path's
	// content is in the newest archive holding it (diffrestore's locate): an increment
	// holds what changed since its base, a delta what changed since its pass one.
	paths := []string{}
	for i, l := range append([]backup.Link{{Entry: e, Source: src.IndexSource()}}, links...) {
		files := []backup.Source{l.Source}
		if i > 0 && l.Source.Delta != nil {
			files[0].Delta = nil
			files = append(files, l.Source.DeltaSource())
		}
		for _, f := range files {
			p, err := localFile(l.Entry, f)
			if err != nil {
				return full(err.Error())
			}
			paths = append(paths, p)
		}
	}
	// The index decides what is left alone: it must be the one the backup recorded.
	if _, err := s.Store.ReadIndex(e, src); err != nil {
		return full("its index is unreadable: " + err.Error())
	}
	task := s.task("restore "+src.Name+" (differential)", src.Name, 0)
	res, err := dr.RestoreDiff(ctx, t, volume.DiffOptions{IndexFile: paths[0], Archives: paths[1:],
		Excludes: ropts.Excludes, Progress: task.Add, Ready: ropts.Ready})
	task.Done(err)
	if err != nil {
		return true, err
	}
	if res.Fallback != "" {
		return full(res.Fallback)
	}
	s.event(fmt.Sprintf("%s: differential restore: %s, %d path(s) removed", src.Name, res.Progress(), res.Removed))
	return true, nil
}

// localFile is the path of the file of src in backup e, when the backup keeps it as a
// plain file in a local directory (Entry.LocalPath) and it is there.
func localFile(e backup.Entry, src backup.Source) (string, error) {
	p, ok := e.LocalPath(src)
	if !ok {
		return "", fmt.Errorf("the backup is not in a local directory")
	}
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}
