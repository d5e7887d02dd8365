//go:build !linux && !darwin

package maibot

import (
	"fmt"
	"os"
)

// openProbe opens path for the version probe. Without O_NOFOLLOW and O_NONBLOCK (Windows,
// where the bot's files live in a Linux VM and are not read this way), the kind is checked
// by name first: exact unless the path changes between the check and the open.
func openProbe(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	return f, nil
}
