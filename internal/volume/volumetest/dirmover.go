// Package volumetest holds test doubles of internal/volume for the packages above it.
package volumetest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/helper"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// DirMover is a volume.Mover for bind targets on this host, as the host fast path moves
// them (no engine, no Sizer). A backup of a target whose base name is in FailBackup fails
// with that error.
type DirMover struct{ FailBackup map[string]error }

// Backup writes a compressed tar of t.HostPath to w (pass one or two with opts.Record or
// opts.Since).
func (m DirMover) Backup(ctx context.Context, t volume.Target, w io.Writer, opts volume.BackupOptions) (archive.Stats, error) {
	if err := m.FailBackup[filepath.Base(t.HostPath)]; err != nil {
		return archive.Stats{}, err
	}
	cw, err := archive.Compress(w, opts.Compression, opts.Level)
	if err != nil {
		return archive.Stats{}, err
	}
	st, err := archive.WriteTar(ctx, cw, t.HostPath, archive.WriteOptions{Excludes: opts.Excludes, Progress: opts.Progress,
		Record: opts.Record, Since: opts.Since, Final: opts.Final})
	if cerr := cw.Close(); err == nil {
		err = cerr
	}
	return st, err
}

// Restore makes t.HostPath exactly the compressed archive read from r (applies it over the
// base with opts.Delta).
func (DirMover) Restore(ctx context.Context, t volume.Target, r io.Reader, opts volume.RestoreOptions) (archive.Stats, error) {
	dr, err := archive.Decompress(r, opts.Compression)
	if err != nil {
		return archive.Stats{}, err
	}
	defer dr.Close()
	extract := archive.Extract
	if opts.Delta {
		extract = archive.ApplyDelta
	}
	return extract(ctx, dr, t.HostPath, archive.ExtractOptions{
		SameOwner: os.Geteuid() == 0, Excludes: opts.Excludes, Progress: opts.Progress,
	})
}

// ReadFile reads the regular file rel of bind target t from this host as
// volume.EngineMover.ReadFile reads it through the engine: at most max bytes, a symbolic
// link or a directory a *volume.FileError, a missing file an error wrapping fs.ErrNotExist.
func (DirMover) ReadFile(_ context.Context, t volume.Target, rel string, max int64) ([]byte, error) {
	p := filepath.Join(t.HostPath, filepath.FromSlash(path.Clean("/"+rel)))
	st, err := os.Lstat(p)
	switch {
	case err != nil:
		return nil, err
	case st.Mode()&fs.ModeSymlink != 0:
		return nil, &volume.FileError{Path: rel, Why: "is a symbolic link, not a regular file"}
	case !st.Mode().IsRegular():
		return nil, &volume.FileError{Path: rel, Why: "is not a regular file"}
	case st.Size() > max:
		return nil, &volume.FileError{Path: rel, Why: fmt.Sprintf("is %d bytes, more than the %d expected", st.Size(), max)}
	}
	return os.ReadFile(p)
}

// RestoreDiff restores t.HostPath differentially (volume.DiffRestorer), as the host path does.
func (DirMover) RestoreDiff(ctx context.Context, t volume.Target, opts volume.DiffOptions) (diffrestore.Result, error) {
	if opts.Ready != nil {
		if err := opts.Ready(); err != nil {
			return diffrestore.Result{}, err
		}
	}
	f, err := os.Open(opts.IndexFile)
	if err != nil {
		return diffrestore.Result{}, err
	}
	defer f.Close()
	progress := opts.Progress
	if progress == nil {
		progress = func(int64) {}
	}
	return helper.DiffRestore(ctx, t.HostPath, f, opts.Archives, opts.Excludes, progress)
}
