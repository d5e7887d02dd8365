package volume

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// FileError is a file ReadFile found but does not return: larger than asked for, or not a
// regular file (a symbolic link is not followed, a directory not read).
type FileError struct {
	Path string
	Why  string
}

func (e *FileError) Error() string { return e.Path + " " + e.Why }

// ReadFile reads the regular file rel (a slash path relative to the top of directory
// target t, never leaving it) through the engine's archive API, as the archive-API backup
// reaches data: a container created from the 0-byte image, never started, network off,
// with t mounted read-only, removed before ReadFile returns. It works the same for a
// volume and a bind, on a local or remote engine, and reads at most max bytes: a larger
// file, a symbolic link (never followed) or a directory is a *FileError. A file that is
// not there, or a volume or bind directory that is not (a missing volume is never
// created), is an error wrapping fs.ErrNotExist. Its
// callers read small files (a database's version file) before anything stops.
func (m *EngineMover) ReadFile(ctx context.Context, t Target, rel string, max int64) (_ []byte, retErr error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if t.IsFile {
		return nil, fmt.Errorf("reading %s of %s: a single file has no files in it", rel, t)
	}
	clean := path.Clean("/" + rel)
	if clean == "/" {
		return nil, fmt.Errorf("reading %q of %s: not a file name", rel, t)
	}
	if t.Kind == KindVolume {
		// Mounting a missing volume would create it (without compose's labels).
		ok, err := volumeExists(ctx, m.cli, t.VolumeName)
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", rel, t, err)
		}
		if !ok {
			return nil, fmt.Errorf("%s: %w", t, fs.ErrNotExist)
		}
	}
	mounts, binds, p := helperMounts(t, true)
	id, remove, err := m.idleContainer(ctx, mounts, binds)
	if err != nil {
		if t.Kind == KindBind && strings.Contains(err.Error(), "does not exist") {
			return nil, fmt.Errorf("%s: %w", t, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("reading %s of %s: %w", rel, t, err)
	}
	defer func() {
		if err := remove(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	res, err := m.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: p + clean})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("%s in %s: %w", rel, t, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("reading %s of %s: %w", rel, t, err)
	}
	defer res.Content.Close()
	data, link, err := OneFile(res.Content, rel, max)
	if err != nil {
		return nil, err
	}
	if link != "" {
		return nil, &FileError{Path: rel, Why: "is a symbolic link (to " + link + "), not a regular file"}
	}
	return data, nil
}

// OneFile reads the engine's archive of one path (the body of CopyFromContainer: `docker
// cp`'s tar) and returns the regular file's content, at most max bytes, or a symbolic
// link's target. A larger file, a directory or any other kind of entry is a *FileError
// naming p. ReadFile and templates.FromImage read files through it.
func OneFile(r io.Reader, p string, max int64) (data []byte, link string, err error) {
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if errors.Is(err, io.EOF) {
		return nil, "", fmt.Errorf("the archive for %s holds no file", p)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading the archive for %s: %w", p, err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		if hdr.Size > max {
			return nil, "", &FileError{Path: p, Why: fmt.Sprintf("is %d bytes, more than the %d expected", hdr.Size, max)}
		}
		data, err := io.ReadAll(io.LimitReader(tr, max+1))
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", p, err)
		}
		if int64(len(data)) > max {
			return nil, "", &FileError{Path: p, Why: fmt.Sprintf("holds more than the %d bytes expected", max)}
		}
		return data, "", nil
	case tar.TypeSymlink:
		return nil, hdr.Linkname, nil
	case tar.TypeDir:
		return nil, "", &FileError{Path: p, Why: "is a directory, not a file"}
	}
	return nil, "", &FileError{Path: p, Why: fmt.Sprintf("is not a regular file (tar type %q)", hdr.Typeflag)}
}
