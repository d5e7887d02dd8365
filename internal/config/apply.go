package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ApplyFile replaces the file at path with data atomically (a temporary file in
// the same directory, synced, then renamed over it), keeping the file's mode and
// owner. A symbolic link is kept and its target replaced. A missing file (a config
// made from its template) is created with mode 0600, owned like its directory
// (created if needed): config files hold API keys and passwords.
func ApplyFile(path string, data []byte) error {
	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved
	}
	dir := filepath.Dir(target)
	mode := fs.FileMode(0o600)
	var own owner
	fi, err := os.Stat(target)
	switch {
	case err == nil:
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		mode = fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		own = ownerOf(fi)
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if di, err := os.Stat(dir); err == nil {
			own = ownerOf(di)
		}
	default:
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".maim-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := chownLike(tmp, own); err != nil {
		return fmt.Errorf("keeping the owner of %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, target); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
