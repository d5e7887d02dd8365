package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LinkOutError is a config file, or its directory, that leads out of the directory the
// merge was planned in: a link swapped in since (by a container that can write the config
// dir) is never written through.
type LinkOutError struct {
	Path, Target, Dir string
}

func (e *LinkOutError) Error() string {
	return fmt.Sprintf("%s leads to %s, outside %s where it was planned: not written through", e.Path, e.Target, e.Dir)
}

// resolvedDir is the directory of path with every symlink followed (the nearest existing
// ancestor's, for a directory the merge will create).
func resolvedDir(path string) (string, error) {
	dir, rest := filepath.Dir(path), ""
	for {
		r, err := filepath.EvalSymlinks(dir)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", err
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}

// within resolves path (every symlink followed; a missing file is its resolved directory
// joined with its name) and returns it when it lies in dir, else a *LinkOutError.
func within(path, dir string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		d, derr := resolvedDir(path)
		if derr != nil {
			return "", derr
		}
		target, err = filepath.Join(d, filepath.Base(path)), nil
	}
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(dir, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", &LinkOutError{Path: path, Target: target, Dir: dir}
	}
	return target, nil
}

// ApplyMerge writes a prepared merge (ApplyFile), into the directory it was prepared in
// only: the file and every directory above it are resolved again at the write, and a file
// that now leads out of that directory (a link swapped in since the plan) is refused with
// a *LinkOutError. Exact while nothing rewrites the path between this resolution and the
// rename: the upgrade merges after it stopped every container of the project.
func ApplyMerge(r Result) error {
	dir := r.Dir
	if dir == "" {
		var err error
		if dir, err = resolvedDir(r.Plan.File); err != nil {
			return err
		}
	}
	target, err := within(r.Plan.File, dir)
	if err != nil {
		return err
	}
	return ApplyFile(target, r.Merged)
}

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
