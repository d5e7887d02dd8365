//go:build linux || darwin

package maibot

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openProbe opens path for the version probe: O_NOFOLLOW (a symlink is ErrNotRegular, never
// followed), O_NONBLOCK (a FIFO opens at once, never waiting for a writer) and the open
// file checked to be a regular file (anything else is ErrNotRegular, nothing read).
func openProbe(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symlink: %w", path, ErrNotRegular)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	return f, nil
}
