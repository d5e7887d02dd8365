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
	dr, can := s.Mover.(volume.DiffRestorer)
	if !can {
		return false, nil
	}
	src := links[len(links)-1].Source
	paths, why, try := s.diffInputs(ctx, links, it, t, ok, ropts.Compression)
	if !try {
		return false, nil
	}
	full := func(why string) (bool, error) {
		s.event(src.Name + ": restored in full: " + why)
		return false, nil
	}
	if why != "" {
		return full(why)
	}
	task := s.task("restore "+src.Name+" (differential)", src.Name, 0)
	res, err := dr.RestoreDiff(ctx, t, volume.DiffOptions{IndexFile: paths[0], Archives: paths[1:],
		Excludes: ropts.Excludes, Progress: task.Add, Ready: ropts.Ready, Staged: it.Staged})
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

// diffInputs are the files a differential restore of it reads (the newest link's index,
// then the archives oldest first), or why it restores in full instead (why set), or try
// false: the differential restore does not apply at all (no index, not a directory).
func (s *Service) diffInputs(ctx context.Context, links []backup.Link, it RestoreItem, t volume.Target, ok bool, comp archive.Compression) (paths []string, why string, try bool) {
	// The newest link's index is the tree the restore gives back.
	e, src := links[len(links)-1].Entry, links[len(links)-1].Source
	if src.Index == nil || !ok || it.To.Kind == project.KindProjectFile || t.IsFile {
		return nil, "", false
	}
	if comp != archive.Zstd {
		return nil, "its archives are not zstd (not seekable)", true
	}
	if t.Kind == volume.KindVolume {
		if _, err := s.Engine.VolumeInspect(ctx, t.VolumeName, client.VolumeInspectOptions{}); err != nil {
			return nil, "volume " + t.VolumeName + " does not exist", true
		}
	}
	// The archives, oldest first: each link's own, then its two-pass delta. A path's
	// content is in the newest archive holding it (diffrestore's locate): an increment
	// holds what changed since its base, a delta what changed since its pass one.
	for i, l := range append([]backup.Link{{Entry: e, Source: src.IndexSource()}}, links...) {
		files := []backup.Source{l.Source}
		if i > 0 && l.Source.Delta != nil {
			files[0].Delta = nil
			files = append(files, l.Source.DeltaSource())
		}
		for _, f := range files {
			p, err := localFile(l.Entry, f)
			if err != nil {
				return nil, err.Error(), true
			}
			paths = append(paths, p)
		}
	}
	// The index decides what is left alone: it must be the one the backup recorded.
	if _, err := s.Store.ReadIndex(e, src); err != nil {
		return nil, "its index is unreadable: " + err.Error(), true
	}
	return paths, "", true
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
