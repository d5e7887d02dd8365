//go:build linux || darwin

package fsaccess

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/exclude"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// MeasureSince measures, from metadata alone, what archive.WriteTar of root with these
// excludes and WriteOptions.Since set to since can write at most (Increment): it takes
// the root as WriteTar does (another root device or inode than the index's, SameRoot; an
// index or a file system that cannot tell every change, Inexact: the tree whole) and
// decides on each regular file with the delta's own rule (treeindex's Index.Changed on
// its lstat, EntryOf). Bytes are exactly the content bytes such a WriteTar would write if
// nothing in the tree changed between the two; a file written after the measure is not
// counted. Paths that vanish during the walk are skipped; any other error is returned (a
// partial count would be too small).
func MeasureSince(ctx context.Context, root string, excludes []string, since *treeindex.Index) (Increment, error) {
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return Increment{}, &os.PathError{Op: "stat", Path: root, Err: err}
	}
	m := &incMeasure{ctx: ctx, links: map[devIno]bool{}, devs: map[uint64]bool{}}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		m.inc.Full, m.inc.Bytes, m.inc.Entries, m.inc.Headers = st.Size, st.Size, 1, 1
		m.inc.Why = "a single file is taken whole"
		return m.inc, nil
	case unix.S_IFDIR:
	default:
		return Increment{}, fmt.Errorf("fsaccess: %s is neither a directory nor a regular file", root)
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	ex, err := exclude.New(excludes)
	if err != nil {
		return Increment{}, err
	}
	m.ex = ex
	switch {
	case since == nil:
		m.inc.Why = "no base index"
	case since.OnePass != "":
		m.inc.Why = since.OnePass
	case !SameRoot(since, &st):
		m.inc.Why = "another tree than the base's index describes (another root device or inode)"
	}
	if m.inc.Why == "" {
		m.since, m.threshold = since, since.Threshold()
	}
	m.checkFS(root, uint64(st.Dev))
	m.inc.Entries, m.inc.Headers = 1, 1
	if err := m.dir(root, ""); err != nil {
		return Increment{}, err
	}
	if m.since == nil {
		m.inc.Bytes, m.inc.Headers = m.inc.Full, m.inc.Entries
		return m.inc, nil
	}
	m.inc.Delta = true
	return m.inc, nil
}

// incMeasure is MeasureSince's walk.
type incMeasure struct {
	ctx       context.Context
	ex        *exclude.Rules
	since     *treeindex.Index // nil: the tree is taken whole
	threshold int64            // since.Threshold()
	links     map[devIno]bool
	devs      map[uint64]bool // the file systems met (checked as pass one checks them)
	inc       Increment
}

func (m *incMeasure) dir(full, rel string) error {
	return walkNames(m.ctx, m.ex, full, rel, func(child, childRel string, _ fs.DirEntry) error {
		return m.entry(child, childRel)
	})
}

// entry counts one path below the root as WriteTar.entry archives it.
func (m *incMeasure) entry(full, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		if gone(err) {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: full, Err: err}
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFSOCK {
		return nil
	}
	m.inc.Entries++
	m.inc.Names += int64(len(rel))
	if typ == unix.S_IFDIR || typ == unix.S_IFREG {
		m.checkFS(full, uint64(st.Dev))
	}
	if typ == unix.S_IFDIR {
		m.inc.Headers++
		return m.dir(full, rel)
	}
	if typ != unix.S_IFREG {
		m.inc.Headers++
		return nil
	}
	first := true
	if st.Nlink > 1 {
		key := devIno{uint64(st.Dev), st.Ino}
		first = !m.links[key]
		m.links[key] = true
	}
	if first {
		m.inc.Full += st.Size
	}
	if m.since != nil && m.since.Changed(rel, EntryOf(&st), uint64(st.Nlink), m.threshold) {
		m.inc.Headers++
		if first {
			m.inc.Bytes += st.Size
		}
	}
	return nil
}

// checkFS: the first time the walk meets a file system (the root's first), whether two
// passes are exact there (Inexact, as archive's rootInexact and pass one's checkFS
// decide); when not, WriteTar takes the tree whole.
func (m *incMeasure) checkFS(full string, dev uint64) {
	if m.devs[dev] {
		return
	}
	m.devs[dev] = true
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return // WriteTar meets the same error, or the path vanished
	}
	defer unix.Close(fd)
	if why, err := Inexact(fd); err == nil && why != "" && m.since != nil {
		m.inc.Why = "the tree holds " + why
		m.since = nil
	}
}

// EntryOf is what an index records of a stat result (archive's records and MeasureSince's
// comparisons use it both).
func EntryOf(st *unix.Stat_t) treeindex.Entry {
	return treeindex.Entry{Mode: uint32(st.Mode), Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
		Dev: uint64(st.Dev), Ino: uint64(st.Ino), Uid: st.Uid, Gid: st.Gid, Nlink: uint32(st.Nlink)}
}

// SameRoot tells whether x's root entry is the directory st describes: the same device
// and inode (an index of another tree cannot say what changed in this one).
func SameRoot(x *treeindex.Index, st *unix.Stat_t) bool {
	e, ok := x.Entries[""]
	return ok && e.Dev == uint64(st.Dev) && e.Ino == uint64(st.Ino)
}

// gone tells whether err says the path vanished during the walk (as archive's walk skips it).
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}
