//go:build !linux && !darwin

package fsaccess

import (
	"os"
	"path/filepath"
)

// Check resolves path by name and checks it stays beneath b.Dir. Outside Linux and
// macOS (Windows: the plugin's own compose and env files only; volumes and binds go through
// the Linux helper) there is no O_NOFOLLOW walk: the check is exact unless the path changes
// between it and the open that follows.
func (b *Beneath) Check(path string) (string, error) {
	if _, ok := b.rel(path); !ok {
		return "", &EscapeError{Path: path, Dir: b.Dir}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if os.IsNotExist(err) {
			return path, nil
		}
		return "", err
	}
	dir, err := filepath.EvalSymlinks(b.Dir)
	if err != nil {
		return "", err
	}
	if _, ok := relTo(real, dir); !ok {
		return "", &EscapeError{Path: path, Link: path, Target: real, Dir: b.Dir}
	}
	return real, nil
}
