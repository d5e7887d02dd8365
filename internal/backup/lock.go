package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrLocked means another docker-maim command holds the project's lock.
var ErrLocked = errors.New("locked")

// Lock takes the project's exclusive lock (a file lock on <state>/<project>/.lock,
// released by the kernel if the process dies). A second docker-maim command on the same
// project and engine is refused while one runs, whatever backup dir either uses.
func (s State) Lock(project string) (unlock func(), err error) {
	dir := s.ProjectDir(project)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process"
		}
		return nil, fmt.Errorf("%w: project %q is in use by another docker-maim command (%s)", ErrLocked, project, who)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+": "+strings.Join(os.Args, " ")+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		unlockFile(f)
		f.Close()
	}, nil
}
