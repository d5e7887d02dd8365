package backup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Repository is where backups are kept: files addressed by project, backup ID and name.
// Store (listing with status, writing with hashes, verifying, choosing the newest) is
// written against it, so every implementation behaves the same above this line. LocalDir
// is the first implementation; backuptest.Conformance is what any other (an
// S3-compatible bucket is planned) must pass.
type Repository interface {
	// Location names a place in the repository in messages and listings: with no
	// elements the repository itself, with a project its backups, with a project and an
	// ID one backup.
	Location(elem ...string) string
	// List returns the IDs of a project's backups, in any order; none (no error) when
	// the project has none.
	List(project string) ([]string, error)
	// Mkdir makes a new, empty backup. It fails with an error wrapping fs.ErrExist when
	// the project already has a backup of that ID, so two writers never share one.
	Mkdir(project, id string) error
	// Stat returns the size of a committed file of a backup, or an error wrapping
	// fs.ErrNotExist when the file or the backup is missing.
	Stat(project, id, name string) (int64, error)
	// Open opens a committed file of a backup for reading.
	Open(project, id, name string) (io.ReadCloser, error)
	// Create starts writing a file of an existing backup. Nothing of it can be seen
	// (Stat, Open) under its name before Commit succeeds; Commit makes it durable and
	// replaces a file of that name whole; Abort drops it.
	Create(project, id, name string) (Upload, error)
	// Delete removes a backup and every file in it; a missing backup is no error.
	Delete(project, id string) error
	// Remove removes one committed file of a backup; a missing file is no error.
	Remove(project, id, name string) error
	// FreeBytes is the space left for new backups, -1 when unknown.
	FreeBytes() int64
	// Lock takes the exclusive lock of a project's place, which every writer of that
	// place takes (whatever its engine, user or process), leaving holder (who it is) for
	// the next taker to read. It never waits: a place already locked fails with an error
	// wrapping ErrLocked that names it and the holder's record. The lock ends with unlock,
	// or with the process. It is no backup: List never returns it.
	Lock(project, holder string) (unlock func(), err error)
}

// Upload is a file being written into a Repository.
type Upload interface {
	io.Writer
	// Commit makes the file durable and visible under its name.
	Commit() error
	// Abort drops the file. It is a no-op after Commit.
	Abort()
	// LocalPath is the file the upload writes, when it is a plain file in a directory of
	// this host (false otherwise). Another writer (docker-maim's helper container, with
	// the directory bind-mounted) may then fill that existing file in place of Write,
	// truncating it first; Commit still makes it durable and visible.
	LocalPath() (string, bool)
}

// LocalDir is a Repository in a local directory: <Root>/<project>/<ID>/<name>,
// directories 0700, files 0600, every file written beside its place as NAME.partial,
// fsynced and renamed.
type LocalDir struct {
	Root string
}

var _ Repository = LocalDir{}

// FileRepository is a Repository that keeps each committed file as a plain file on this
// host (LocalDir), so a reader that needs a path (random access, another process) can
// have it instead of a stream. A remote (internal/backup/s3) is not one.
type FileRepository interface {
	Repository
	FilePath(project, id, name string) (string, bool)
}

var _ FileRepository = LocalDir{}

// Location is the path of the repository, of a project's backups, or of a backup.
func (l LocalDir) Location(elem ...string) string {
	return filepath.Join(append([]string{l.Root}, elem...)...)
}

// path joins elem under the root, refusing an element that would leave its place.
func (l LocalDir) path(elem ...string) (string, error) {
	for _, e := range elem {
		if e == "" || e == "." || e == ".." || strings.ContainsAny(e, `/\`) {
			return "", fmt.Errorf("backup repository %s: bad name %q", l.Root, e)
		}
	}
	return l.Location(elem...), nil
}

func (l LocalDir) List(project string) ([]string, error) {
	dir, err := l.path(project)
	if err != nil {
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		if de.IsDir() {
			out = append(out, de.Name())
		}
	}
	return out, nil
}

func (l LocalDir) Mkdir(project, id string) error {
	dir, err := l.path(project, id)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	return os.Mkdir(dir, 0o700)
}

func (l LocalDir) Stat(project, id, name string) (int64, error) {
	p, err := l.path(project, id, name)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: not a file: %w", p, fs.ErrNotExist)
	}
	return st.Size(), nil
}

func (l LocalDir) Open(project, id, name string) (io.ReadCloser, error) {
	p, err := l.path(project, id, name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// FilePath is the absolute path of a committed file of a backup on this host, where Open
// reads it (false for a name that would leave its place). It checks nothing of the file:
// not that it exists, nor its hash.
func (l LocalDir) FilePath(project, id, name string) (string, bool) {
	p, err := l.path(project, id, name)
	if err != nil {
		return "", false
	}
	p, err = filepath.Abs(p)
	return p, err == nil
}

func (l LocalDir) Create(project, id, name string) (Upload, error) {
	p, err := l.path(project, id, name)
	if err != nil {
		return nil, err
	}
	tmp := p + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &localUpload{f: f, tmp: tmp, path: p}, nil
}

func (l LocalDir) Delete(project, id string) error {
	p, err := l.path(project, id)
	if err != nil {
		return err
	}
	return os.RemoveAll(p)
}

func (l LocalDir) Remove(project, id, name string) error {
	p, err := l.path(project, id, name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(p))
}

func (l LocalDir) FreeBytes() int64 { return freeBytes(l.Root) }

// Lock takes a file lock (flock, LockFileEx) on <root>/<project>/.lock, the file an older
// docker-maim locked in the backup dir too. The project folder is made 0700 when missing;
// the lock file is 0600 and belongs to the folder's owner (openSharedLock): root and the
// user who made the folder can both take it. A user who cannot open it (a folder root
// made) cannot write that folder either, and is told so.
func (l LocalDir) Lock(project, holder string) (unlock func(), err error) {
	dir, err := l.path(project)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup dir: %w", err)
	}
	f, err := openSharedLock(dir, LockName)
	if err != nil {
		return nil, fmt.Errorf("backup dir %s: cannot open its lock (a folder another user made is theirs; use a backup dir of your own): %w", dir, err)
	}
	unlock, who, err := holdLock(f, holder)
	if err != nil {
		return nil, fmt.Errorf("%w: backup dir %s of project %q is in use by another docker-maim command (%s)", err, dir, project, who)
	}
	return unlock, nil
}

type localUpload struct {
	f         *os.File
	tmp, path string
	done      bool
}

func (u *localUpload) Write(p []byte) (int, error) { return u.f.Write(p) }

// LocalPath is the temporary NAME.partial; Commit fsyncs it through its own descriptor,
// whoever wrote it, and renames it.
func (u *localUpload) LocalPath() (string, bool) {
	p, err := filepath.Abs(u.tmp)
	return p, err == nil
}

func (u *localUpload) Commit() error {
	if u.done {
		return errors.New("upload already ended")
	}
	u.done = true
	if err := u.f.Sync(); err != nil {
		u.f.Close()
		os.Remove(u.tmp)
		return err
	}
	if err := u.f.Close(); err != nil {
		os.Remove(u.tmp)
		return err
	}
	if err := os.Rename(u.tmp, u.path); err != nil {
		os.Remove(u.tmp)
		return err
	}
	return syncDir(filepath.Dir(u.path))
}

func (u *localUpload) Abort() {
	if u.done {
		return
	}
	u.done = true
	u.f.Close()
	os.Remove(u.tmp)
}
