package backup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
)

// ErrLocked means another docker-maim command holds the project's lock.
var ErrLocked = api.ErrLocked

// LockName is the lock file of a project, in its state dir and in a local backup dir's
// project folder.
const LockName = ".lock"

// Lock takes the project's exclusive lock (a file lock on <state>/<project>/.lock,
// released by the kernel if the process dies). A second docker-maim command on the same
// project and engine is refused while one runs, whatever backup dir either uses.
func (s State) Lock(project string) (unlock func(), err error) {
	dir := s.ProjectDir(project)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	unlock, who, err := holdLock(f, "pid "+strconv.Itoa(os.Getpid())+": "+strings.Join(os.Args, " "))
	if err != nil {
		return nil, fmt.Errorf("%w: project %q is in use by another docker-maim command (%s)", err, project, who)
	}
	return unlock, nil
}

// Lock takes the lock of the project's place in the backup repository, which every
// command that writes or deletes there takes (backup, upgrade, restore and rollback for
// their safety backups, prune), whatever its engine and user: two engines' or two users'
// commands that share a backup dir never write or prune it at the same time. Take it after
// the state lock (State.Lock): every command orders the two the same way. A second
// taker is refused at once with ErrLocked, told who holds it: the pid, user and engine
// of the holder (the store's Origin) and its command line.
func (s Store) Lock(project string) (unlock func(), err error) {
	return s.Repo.Lock(project, holder(s.Origin))
}

// holder is the record a lock holder leaves in the lock file: "pid N, user U (uid N),
// engine E (context C, host H): command line".
func holder(o Origin) string {
	var b strings.Builder
	b.WriteString("pid " + strconv.Itoa(os.Getpid()))
	if o.User != "" || o.UID != "" {
		b.WriteString(", user " + o.User)
		if o.UID != "" {
			b.WriteString(" (uid " + o.UID + ")")
		}
	}
	if o.EngineID != "" {
		b.WriteString(", " + o.String())
	}
	return b.String() + ": " + strings.Join(os.Args, " ")
}

// holdLock takes f's exclusive lock without waiting and writes record into it; on failure
// it closes f and returns the holder's record ("another process" when it left none).
func holdLock(f *os.File, record string) (unlock func(), who string, err error) {
	if err := lockFile(f); err != nil {
		holder := make([]byte, 4096)
		n, _ := f.ReadAt(holder, 0)
		f.Close()
		who := strings.TrimSpace(string(holder[:n]))
		if who == "" {
			who = "another process"
		}
		return nil, who, ErrLocked
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(record+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		unlockFile(f)
		f.Close()
	}, "", nil
}
