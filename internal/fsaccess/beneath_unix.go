//go:build linux || darwin

package fsaccess

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// maxLinks bounds the symlinks one resolution follows (the kernel's own limit).
const maxLinks = 40

// resolved is a single-file path resolved beneath a directory: its parent directory, open,
// and its name there, which was no symlink when looked at (exists false: nothing there).
type resolved struct {
	dir       int
	dirPath   string // for messages: Dir joined with the components walked
	name      string
	exists    bool
	st        unix.Stat_t
	finalLink bool // the name is where a symlink at the path's end led
}

func (r *resolved) close() { unix.Close(r.dir) }

func (r *resolved) path() string { return filepath.Join(r.dirPath, r.name) }

// resolve walks path beneath b.Dir one component at a time (see Beneath): "." is skipped,
// ".." climbs (never above Dir), a symlink is followed while it stays beneath Dir, a
// directory is entered with O_NOFOLLOW, and the last component is the result, whether it
// exists or not.
func (b *Beneath) resolve(path string) (*resolved, error) {
	comps, ok := b.rel(path)
	if !ok {
		return nil, &EscapeError{Path: path, Dir: b.Dir}
	}
	root, err := unix.Open(b.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|oPath, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: b.Dir, Err: err}
	}
	w := &walk{b: b, path: path, stack: []int{root}, walked: []string{}}
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		last := len(comps) == 0
		if c == "." {
			continue
		}
		if c == ".." {
			if err := w.up(); err != nil {
				return nil, err
			}
			continue
		}
		var st unix.Stat_t
		err := unix.Fstatat(w.cur(), c, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) && last {
			return w.found(c, nil), nil
		}
		if err != nil {
			w.closeAll()
			return nil, &os.PathError{Op: "stat", Path: w.shown(c), Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if comps, err = w.follow(c, last, comps); err != nil {
				return nil, err
			}
			continue
		}
		if last {
			return w.found(c, &st), nil
		}
		if err := w.down(c, &st); err != nil {
			return nil, err
		}
	}
	w.closeAll()
	return nil, fmt.Errorf("archive: %s resolves to a directory, not to a file", path)
}

// walk is a resolution in progress: the directories open from Dir down to the current one,
// and the symlinks followed so far.
type walk struct {
	b      *Beneath
	path   string
	stack  []int    // open directories from Dir down to the current one
	walked []string // names of stack[1:]
	links  int
	// finalLink: the path's last component was a symlink (the name resolved is where it led).
	finalLink            bool
	lastLink, lastTarget string // the last symlink followed, for messages
}

func (w *walk) cur() int { return w.stack[len(w.stack)-1] }

func (w *walk) closeAll() {
	for _, fd := range w.stack {
		unix.Close(fd)
	}
}

// shown is name in the current directory, for messages: Dir joined with the names walked.
func (w *walk) shown(name string) string {
	return filepath.Join(append(append([]string{w.b.Dir}, w.walked...), name)...)
}

// found ends the walk at name in the current directory (st nil: nothing there), which stays
// open in the result.
func (w *walk) found(name string, st *unix.Stat_t) *resolved {
	cur := w.cur()
	w.stack = w.stack[:len(w.stack)-1]
	w.closeAll()
	r := &resolved{dir: cur, dirPath: w.shown(""), name: name, finalLink: w.finalLink}
	if st != nil {
		r.exists, r.st = true, *st
	}
	return r
}

// up climbs to the parent directory for "..": above Dir is an escape.
func (w *walk) up() error {
	if len(w.stack) == 1 {
		w.closeAll()
		return &EscapeError{Path: w.path, Link: w.lastLink, Target: w.lastTarget, Dir: w.b.Dir}
	}
	unix.Close(w.cur())
	w.stack, w.walked = w.stack[:len(w.stack)-1], w.walked[:len(w.walked)-1]
	return nil
}

// down enters the directory name (O_NOFOLLOW); st is what it was when looked at.
func (w *walk) down(name string, st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		w.closeAll()
		return &os.PathError{Op: "resolve", Path: w.shown(name), Err: unix.ENOTDIR}
	}
	fd, err := unix.Openat(w.cur(), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|oPath, 0)
	if err != nil {
		w.closeAll()
		return &os.PathError{Op: "open", Path: w.shown(name), Err: err}
	}
	w.stack, w.walked = append(w.stack, fd), append(w.walked, name)
	return nil
}

// follow follows the symlink name in the current directory: its target's components come
// before the rest (comps); an absolute target restarts from Dir when it names Dir or an
// alias, and is an escape otherwise.
func (w *walk) follow(name string, last bool, comps []string) ([]string, error) {
	if w.links++; w.links > maxLinks {
		w.closeAll()
		return nil, &os.PathError{Op: "resolve", Path: w.path, Err: unix.ELOOP}
	}
	target, err := readlinkat(w.cur(), name)
	if err != nil {
		w.closeAll()
		return nil, &os.PathError{Op: "readlink", Path: w.shown(name), Err: err}
	}
	next := splitPath(target)
	if filepath.IsAbs(target) {
		r, ok := w.b.rel(target)
		if !ok {
			w.closeAll()
			return nil, &EscapeError{Path: w.path, Link: w.shown(name), Target: target, Dir: w.b.Dir}
		}
		for _, fd := range w.stack[1:] {
			unix.Close(fd)
		}
		w.stack, w.walked = w.stack[:1], w.walked[:0]
		next = r
	}
	// ".." in a relative link climbs the directories walked so far; above Dir it is
	// refused when reached.
	w.lastLink, w.lastTarget = w.shown(name), target
	if last {
		w.finalLink = true
	}
	comps = append(next, comps...)
	if len(comps) == 0 {
		w.closeAll()
		return nil, fmt.Errorf("archive: %s leads to %s itself, not to a file", w.path, w.b.Dir)
	}
	return comps, nil
}

// readlinkat reads the symlink name in the directory open as dir.
func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// errNotRegular marks a single-file path that leads to something other than a regular file.
var errNotRegular = errors.New("not a regular file")

// OpenFile opens path for reading beneath b (see Beneath): O_NOFOLLOW relative to its
// resolved parent, O_NONBLOCK so that a FIFO swapped in never blocks the open, and the open
// file checked to be a regular file. A path that changes into a symlink between the walk and
// the open is walked again (a few times, then refused).
func (b *Beneath) OpenFile(path string) (*os.File, *unix.Stat_t, error) {
	for try := 0; ; try++ {
		r, err := b.resolve(path)
		if err != nil {
			return nil, nil, err
		}
		if !r.exists {
			r.close()
			return nil, nil, &os.PathError{Op: "open", Path: path, Err: unix.ENOENT}
		}
		if r.st.Mode&unix.S_IFMT != unix.S_IFREG {
			r.close()
			return nil, nil, &os.PathError{Op: "open", Path: r.path(), Err: errNotRegular}
		}
		fd, err := unix.Openat(r.dir, r.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		p := r.path()
		r.close()
		if errors.Is(err, unix.ELOOP) && try < 3 {
			continue // it became a symlink after the walk looked: walk again
		}
		if err != nil {
			return nil, nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		f := os.NewFile(uintptr(fd), p)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			f.Close()
			return nil, nil, &os.PathError{Op: "fstat", Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			f.Close()
			return nil, nil, &os.PathError{Op: "open", Path: p, Err: errNotRegular}
		}
		return f, &st, nil
	}
}

// Dest is a regular file replaced beneath a directory (the destination of a single-file
// archive): a temporary file created (O_EXCL|O_NOFOLLOW) in the resolved parent directory and
// renamed over the resolved name, both relative to the parent's descriptor.
type Dest struct {
	r   *resolved
	tmp string
}

// Dest resolves dest beneath b for a write. A symlink at dest that stays beneath
// b.Dir is followed (the file it leads to is replaced, the link stays); one that leads
// nowhere, or leads outside, is refused, and so is a directory or another non-regular file.
func (b *Beneath) Dest(dest string) (*Dest, error) {
	r, err := b.resolve(dest)
	if err != nil {
		return nil, err
	}
	if !r.exists && r.finalLink {
		p := r.path()
		r.close()
		return nil, fmt.Errorf("archive: %s is a symlink that does not lead to a file (%s is missing): refusing to replace the link by a file", dest, p)
	}
	if r.exists && r.st.Mode&unix.S_IFMT == unix.S_IFDIR {
		r.close()
		return nil, fmt.Errorf("archive: %s is a directory but the archive holds a single file", dest)
	}
	if r.exists && r.st.Mode&unix.S_IFMT != unix.S_IFREG {
		p := r.path()
		r.close()
		return nil, &os.PathError{Op: "replace", Path: p, Err: errNotRegular}
	}
	return &Dest{r: r}, nil
}

// Name is the file replaced, for messages.
func (d *Dest) Name() string { return d.r.path() }

// Create creates the temporary file beside the destination.
func (d *Dest) Create() (*os.File, error) {
	for try := 0; ; try++ {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		d.tmp = "." + d.r.name + ".maim-" + hex.EncodeToString(rnd[:])
		fd, err := unix.Openat(d.r.dir, d.tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) && try < 10 {
			continue
		}
		if err != nil {
			d.tmp = ""
			return nil, &os.PathError{Op: "create", Path: filepath.Join(d.r.dirPath, "."+d.r.name+".maim-*"), Err: err}
		}
		return os.NewFile(uintptr(fd), filepath.Join(d.r.dirPath, d.tmp)), nil
	}
}

// SetTimes sets the times of the temporary file, once closed.
func (d *Dest) SetTimes(atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(d.r.dir, d.tmp, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "chtimes", Path: filepath.Join(d.r.dirPath, d.tmp), Err: err}
	}
	return nil
}

// Commit renames the temporary file over the destination.
func (d *Dest) Commit() error {
	if err := unix.Renameat(d.r.dir, d.tmp, d.r.dir, d.r.name); err != nil {
		return &os.LinkError{Op: "rename", Old: filepath.Join(d.r.dirPath, d.tmp), New: d.r.path(), Err: err}
	}
	d.tmp = ""
	return nil
}

// Close removes the temporary file unless committed and closes the parent directory.
func (d *Dest) Close() {
	if d.tmp != "" {
		_ = unix.Unlinkat(d.r.dir, d.tmp, 0)
		d.tmp = ""
	}
	d.r.close()
}
