//go:build !linux && !darwin

package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

// extractDir is not supported outside Linux and macOS (Windows): directory
// archives (volumes and bind mounts) are restored by the Linux helper
// container, which preserves owners, xattrs and device nodes.
func extractDir(ctx context.Context, tr *trailerReader, rd *tar.Reader, h *tar.Header, dest string, opts ExtractOptions) (Stats, error) {
	return Stats{}, fmt.Errorf("archive: extracting a directory archive into %s is not supported on %s (directories are restored by the Linux helper container)", dest, runtime.GOOS)
}

// Patch is not supported outside Linux and macOS, as extractDir.
func Patch(ctx context.Context, dest string, next PatchNext, remove []string, opts ExtractOptions) (Stats, error) {
	return Stats{}, fmt.Errorf("archive: patching %s is not supported on %s", dest, runtime.GOOS)
}

// fileAttrs applies what the platform can hold of a single-file archive's
// metadata to its temporary file f: the permission bits (on Windows only the
// owner write bit, as the read-only attribute). Owners cannot be set
// (SameOwner fails with an error); extended attributes are skipped.
func (x *extractor) fileAttrs(f *os.File, h *tar.Header, dest string) error {
	if x.owner {
		return fmt.Errorf("archive: restoring owners of %s (SameOwner) is not supported on %s", dest, runtime.GOOS)
	}
	if err := f.Chmod(os.FileMode(h.Mode) & os.ModePerm); err != nil {
		return pathErr("chmod", f.Name(), err)
	}
	return nil
}

// writePool is the Linux and macOS writer pool of extractDir; unused here.
type writePool struct{}

// ApplyDelta is not supported outside Linux and macOS (deltas are of directories, which the
// Linux helper container restores).
func ApplyDelta(ctx context.Context, r io.Reader, dest string, opts ExtractOptions) (Stats, error) {
	return Stats{}, errors.New("archive: applying a delta is not supported on this system")
}
