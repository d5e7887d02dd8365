//go:build !linux && !darwin

package archive

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// root archives the WriteTar root. Outside Linux and macOS (Windows) only a
// regular-file root is supported, with reduced metadata: the mode is what
// os.FileInfo reports (0666, or 0444 for a read-only file), uid/gid are 0
// and no extended attributes are recorded. Directories (volumes and bind
// mounts) are archived by the Linux helper container, never by the plugin
// itself on these systems.
func (t *tarWriter) root(root string) error {
	name := root
	if b := t.opts.Beneath; b != nil {
		real, err := b.Check(root)
		if err != nil {
			return err
		}
		root = real
	}
	fi, err := os.Stat(root)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("archive: archiving directory %s is not supported on %s (directories are archived by the Linux helper container)", root, runtime.GOOS)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("archive: %s is neither a directory nor a regular file", root)
	}
	f, err := os.Open(root)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return err
	}
	h := &tar.Header{
		Name:    filepath.Base(name),
		Mode:    int64(fi.Mode().Perm()),
		ModTime: fi.ModTime(),
		Format:  tar.FormatPAX,
		Size:    fi.Size(),
	}
	return t.regular(f, root, h)
}
