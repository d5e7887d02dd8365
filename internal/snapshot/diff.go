package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/moby/client"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// tryDiff restores the directory source of it differentially (internal/diffrestore: only
// what differs from the backup's final index is rewritten, when that is exact) and reports
// whether it did. It does not when the backup has no index of the source, its archives are
// not local zstd files, the Mover cannot (volume.DiffRestorer), or the differential restore
// itself finds its conditions do not hold (a foreign, empty or missing target, a file system
// that may hide changes): then nothing was touched, an event says why, and the caller
// restores in full.
func (s *Service) tryDiff(ctx context.Context, e backup.Entry, it RestoreItem, t volume.Target, ok bool, ropts volume.RestoreOptions) (bool, error) {
	src := it.From
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
	files := []backup.Source{src.IndexSource(), src}
	if src.Delta != nil {
		files = append(files, src.DeltaSource())
	}
	var paths []string
	for _, f := range files {
		p, err := localFile(e, f)
		if err != nil {
			return full(err.Error())
		}
		paths = append(paths, p)
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

// localFile is the path of the file of src in backup e, when the backup is in a local
// directory.
func localFile(e backup.Entry, src backup.Source) (string, error) {
	r, err := e.Open(src)
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, ok := r.(*os.File)
	if !ok {
		return "", fmt.Errorf("the backup is not in a local directory")
	}
	return filepath.Abs(f.Name())
}
