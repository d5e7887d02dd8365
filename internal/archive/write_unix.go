//go:build linux || darwin

package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// root archives the WriteTar root: a directory with its contents or a
// single regular file.
func (t *tarWriter) root(root string) error {
	if b := t.opts.Beneath; b != nil {
		f, st, err := b.OpenFile(root)
		if err != nil {
			return err
		}
		defer f.Close()
		return t.regularStat(f, root, filepath.Base(root), st)
	}
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return &os.PathError{Op: "stat", Path: root, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		// A symlinked root is followed (the walk below never follows links).
		if real, err := filepath.EvalSymlinks(root); err == nil {
			root = real
		}
		if x := t.opts.Since; x != nil && x.OnePass == "" && !sameRoot(x, &st) {
			// Another tree than the index describes (an incremental backup's base of a
			// volume since recreated): a delta against it would be wrong; archived whole.
			t.opts.Since = nil
		}
		if t.opts.Since != nil {
			t.stats.OnePass = t.opts.Since.OnePass
			if t.stats.OnePass == "" {
				t.stats.OnePass = rootInexact(root)
			}
		}
		if t.opts.Since != nil && t.stats.OnePass == "" {
			t.delta = &deltaState{since: t.opts.Since, threshold: t.opts.Since.Threshold(), seen: map[string]bool{}}
			h := &tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", Format: tar.FormatPAX,
				PAXRecords: map[string]string{paxDelta: "1"}}
			if err := t.tw.WriteHeader(h); err != nil {
				return fmt.Errorf("archive: write delta header: %w", err)
			}
			t.stats.Delta = true
		}
		if t.opts.Final != nil && t.stats.OnePass != "" {
			t.opts.Final.OnePass = t.stats.OnePass
		}
		return t.dir(root, "", &st)
	case unix.S_IFREG:
		f, err := os.Open(root)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return &os.PathError{Op: "fstat", Path: root, Err: err}
		}
		return t.regularStat(f, root, filepath.Base(root), &st)
	}
	return fmt.Errorf("archive: %s is neither a directory nor a regular file", root)
}

func vanished(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// header builds a tar header from a stat result.
func (t *tarWriter) header(full, name string, st *unix.Stat_t) (*tar.Header, error) {
	h := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
		Format:  tar.FormatPAX,
	}
	xattrs, err := t.readXattrs(full)
	if err != nil {
		return nil, err
	}
	if len(xattrs) > 0 {
		h.PAXRecords = xattrs
	}
	return h, nil
}

// readXattrs returns SCHILY.xattr.* records for full (not following symlinks).
func (t *tarWriter) readXattrs(full string) (map[string]string, error) {
	var n int
	var err error
	for {
		n, err = unix.Llistxattr(full, t.xlist)
		if err == unix.ERANGE {
			sz, err2 := unix.Llistxattr(full, nil)
			if err2 != nil {
				return nil, nil
			}
			t.xlist = make([]byte, sz*2+64)
			continue
		}
		break
	}
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || vanished(err) || errors.Is(err, unix.EPERM) {
			return nil, nil
		}
		return nil, &os.PathError{Op: "llistxattr", Path: full, Err: err}
	}
	if n == 0 {
		return nil, nil
	}
	var recs map[string]string
	for _, attr := range strings.Split(string(t.xlist[:n]), "\x00") {
		if attr == "" {
			continue
		}
		var vn int
		for {
			vn, err = unix.Lgetxattr(full, attr, t.xval)
			if err == unix.ERANGE {
				sz, err2 := unix.Lgetxattr(full, attr, nil)
				if err2 != nil {
					err = err2
					break
				}
				t.xval = make([]byte, sz*2+64)
				continue
			}
			break
		}
		if err != nil {
			if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) || vanished(err) {
				continue
			}
			return nil, &os.PathError{Op: "lgetxattr " + attr, Path: full, Err: err}
		}
		if recs == nil {
			recs = map[string]string{}
		}
		recs["SCHILY.xattr."+attr] = string(t.xval[:vn])
	}
	return recs, nil
}

// dir archives the directory full (entry name "./"+rel+"/") and its contents.
func (t *tarWriter) dir(full, rel string, st *unix.Stat_t) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if rel != "" && vanished(err) {
			t.warn(full, err)
			return nil
		}
		return &os.PathError{Op: "open", Path: full, Err: err}
	}
	f := os.NewFile(uintptr(fd), full)
	defer f.Close()
	if err := unix.Fstat(fd, st); err != nil {
		return &os.PathError{Op: "fstat", Path: full, Err: err}
	}
	if err := t.checkFS(fd, uint64(st.Dev), rel); err != nil {
		return err
	}
	t.record(rel, st)
	if t.delta != nil {
		t.delta.seen[rel] = true
	}
	name := "./"
	if rel != "" {
		name = "./" + rel + "/"
	}
	h, err := t.header(full, name, st)
	if err != nil {
		return err
	}
	h.Typeflag = tar.TypeDir
	if err := t.write(h); err != nil {
		return err
	}
	if t.onePass() {
		return nil
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		if rel != "" && vanished(err) {
			return nil
		}
		return &os.PathError{Op: "readdir", Path: full, Err: err}
	}
	f.Close()
	return t.children(full, rel, names)
}

// children archives the entries names of the directory full (rel), in lexical order,
// leaving out what the excludes exclude.
func (t *tarWriter) children(full, rel string, names []string) error {
	sort.Strings(names)
	ahead, err := t.statAhead(full, names)
	if err != nil || ahead == nil {
		return err
	}
	defer ahead.Close()
	for i, n := range names {
		childRel := n
		if rel != "" {
			childRel = rel + "/" + n
		}
		var err error
		switch {
		case !t.excluded(childRel):
			var st unix.Stat_t
			lerr := ahead.Lstat(i, full+"/"+n, &st)
			err = t.entry(full+"/"+n, childRel, st, lerr)
		case !t.ex.Prune(childRel):
			err = t.enterExcluded(full+"/"+n, childRel)
		}
		if err != nil {
			return err
		}
		if t.onePass() {
			return nil
		}
	}
	return nil
}

// enterExcluded walks the excluded path rel when it is a directory an exception may
// re-include something below: rel itself is not archived, what is re-included below it is
// (an extraction creates the missing parents). Pass one marks the tree one-pass instead.
func (t *tarWriter) enterExcluded(full, rel string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || vanished(err) {
			return nil // not a directory (excluded whole), or gone
		}
		return &os.PathError{Op: "open", Path: full, Err: err}
	}
	f := os.NewFile(uintptr(fd), full)
	defer f.Close()
	if t.opts.Record != nil {
		t.opts.Record.OnePass = rel + " is excluded but an exception (!pattern) may re-include something below it"
		return nil
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		if vanished(err) {
			return nil
		}
		return &os.PathError{Op: "readdir", Path: full, Err: err}
	}
	f.Close()
	return t.children(full, rel, names)
}

// statAhead prepares the lstats of a directory's names: in a delta, a large directory's in
// batches on all cores (fsaccess.StatAhead; exact under unchangedAtLstat's condition). A
// directory gone since it was listed is nil: nothing of it is archived.
func (t *tarWriter) statAhead(full string, names []string) (*fsaccess.Ahead, error) {
	a, err := fsaccess.StatAhead(full, names, t.delta != nil)
	if err != nil {
		if vanished(err) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			t.warn(full, err)
			return nil, nil
		}
		return nil, &os.PathError{Op: "open", Path: full, Err: err}
	}
	return a, nil
}

// entry archives one path below the root whose lstat is st (or its error, lerr).
func (t *tarWriter) entry(full, rel string, st unix.Stat_t, lerr error) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if lerr != nil {
		if vanished(lerr) {
			t.warn(full, lerr)
			return nil
		}
		return &os.PathError{Op: "lstat", Path: full, Err: lerr}
	}
	if testAfterLstat != nil {
		testAfterLstat(full)
	}
	name := "./" + rel
	typ := st.Mode & unix.S_IFMT
	switch typ {
	case unix.S_IFDIR:
		return t.dir(full, rel, &st)
	case unix.S_IFSOCK:
		return nil
	case unix.S_IFREG:
		if t.unchangedAtLstat(rel, &st) {
			return nil
		}
		fd, err := unix.Open(full, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			if vanished(err) {
				t.warn(full, err)
				return nil
			}
			return &os.PathError{Op: "open", Path: full, Err: err}
		}
		f := os.NewFile(uintptr(fd), full)
		defer f.Close()
		if err := unix.Fstat(fd, &st); err != nil {
			return &os.PathError{Op: "fstat", Path: full, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			// Replaced by something else between lstat and open.
			t.warn(full, errors.New("changed type while archiving"))
			return nil
		}
		if err := t.checkFS(fd, uint64(st.Dev), rel); err != nil || t.onePass() {
			return err
		}
		t.record(rel, &st)
		if t.delta != nil {
			t.delta.seen[rel] = false
			if !t.delta.changed(rel, indexEntry(&st), uint64(st.Nlink)) {
				return nil
			}
		}
		if st.Nlink > 1 {
			if done, err := t.hardlink(full, name, &st); done || err != nil {
				return err
			}
		}
		return t.regularStat(f, full, name, &st)
	}

	t.record(rel, &st)
	if t.delta != nil {
		t.delta.seen[rel] = false
	}
	if st.Nlink > 1 {
		if done, err := t.hardlink(full, name, &st); done || err != nil {
			return err
		}
	}
	h, err := t.header(full, name, &st)
	if err != nil {
		return err
	}
	switch typ {
	case unix.S_IFLNK:
		target, err := os.Readlink(full)
		if err != nil {
			if vanished(err) || errors.Is(err, unix.EINVAL) {
				t.warn(full, err)
				return nil
			}
			return err
		}
		h.Typeflag = tar.TypeSymlink
		h.Linkname = target
	case unix.S_IFIFO:
		h.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		h.Typeflag = tar.TypeChar
		if typ == unix.S_IFBLK {
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor = int64(unix.Major(rdev(&st)))
		h.Devminor = int64(unix.Minor(rdev(&st)))
	default:
		return nil
	}
	return t.write(h)
}

// unchangedAtLstat: in a delta, a regular file whose lstat equals its base entry is recorded
// and left out without being opened (open, fstat and close were half of pass two). Equal to
// the slow path (decide on the open file's fstat) when nothing replaces the path between
// the lstat and the open, which two passes already ask of pass two; its file system must be
// one the walk has checked. TestDeltaSwapAfterLstat breaks that: the newcomer is left out,
// the final index records the file decided on, and the next delta archives the newcomer.
func (t *tarWriter) unchangedAtLstat(rel string, st *unix.Stat_t) bool {
	dev := uint64(st.Dev)
	if t.delta == nil || (t.opts.Record != nil && !t.fsSeen[dev]) || (t.opts.Final != nil && !t.finFS[dev]) {
		return false
	}
	if t.delta.changed(rel, indexEntry(st), uint64(st.Nlink)) {
		return false
	}
	t.record(rel, st)
	t.delta.seen[rel] = false
	return true
}

// testAfterLstat, set by tests only, runs between an entry's lstat and its open.
var testAfterLstat func(full string)

// checkFS is called in pass one with an open fd of each directory and regular file, before
// anything of it is read: the first time it meets a file system (device), it decides whether
// two passes are exact there (fsaccess.Inexact) and, when they are, writes back that file
// system's dirty pages, so that any later write through a shared mapping moves a ctime. When
// they are not, Index.OnePass says why and the walk stops: pass two archives the tree whole,
// and what pass one wrote is of no use.
func (t *tarWriter) checkFS(fd int, dev uint64, rel string) error {
	t.checkFinalFS(fd, dev, rel)
	if t.opts.Record == nil || t.fsSeen[dev] {
		return nil
	}
	if t.fsSeen == nil {
		t.fsSeen = map[uint64]bool{}
	}
	t.fsSeen[dev] = true
	where := "the tree"
	if rel != "" {
		where = rel
	}
	reason, err := fsaccess.Inexact(fd)
	if err != nil {
		reason = "statfs failed: " + err.Error()
	} else if reason == "" {
		if err := syncFS(fd); err != nil {
			reason = "writing back its dirty pages failed: " + err.Error()
		}
	}
	if reason != "" {
		t.opts.Record.OnePass = where + " is on " + reason
	}
	return nil
}

// checkFinalFS marks the Final index inexact the first time the walk meets a file system
// where a write may leave a file's times as they were (fsaccess.Inexact).
func (t *tarWriter) checkFinalFS(fd int, dev uint64, rel string) {
	if t.opts.Final == nil || t.finFS[dev] {
		return
	}
	if t.finFS == nil {
		t.finFS = map[uint64]bool{}
	}
	t.finFS[dev] = true
	where := "the tree"
	if rel != "" {
		where = rel
	}
	reason, err := fsaccess.Inexact(fd)
	if err != nil {
		reason = "statfs failed: " + err.Error()
	}
	if reason != "" && t.opts.Final.OnePass == "" {
		t.opts.Final.OnePass = where + " is on " + reason
	}
}

// onePass says whether pass one found the tree cannot be taken in two passes.
func (t *tarWriter) onePass() bool {
	return t.opts.Record != nil && t.opts.Record.OnePass != ""
}

// rootInexact is pass two's own check of the root's file system (pass one may have met it
// elsewhere); "" when it is exact.
func rootInexact(root string) string {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "" // the walk reports it
	}
	defer unix.Close(fd)
	reason, err := fsaccess.Inexact(fd)
	if err != nil || reason == "" {
		return ""
	}
	return "the tree is on " + reason
}

// indexEntry is what an index records of a stat result.
func indexEntry(st *unix.Stat_t) IndexEntry {
	return fsaccess.EntryOf(st) // shared with fsaccess.MeasureSince
}

// record adds rel to the pass-one index and the final index, when they are being recorded.
func (t *tarWriter) record(rel string, st *unix.Stat_t) {
	if t.opts.Record != nil {
		t.opts.Record.Entries[rel] = indexEntry(st)
	}
	if t.opts.Final != nil {
		t.opts.Final.Entries[rel] = indexEntry(st)
	}
}

// hardlink emits a TypeLink entry when (dev, ino) was archived before and
// remembers name otherwise. done reports whether the entry was written.
func (t *tarWriter) hardlink(full, name string, st *unix.Stat_t) (done bool, err error) {
	key := devIno{uint64(st.Dev), st.Ino}
	first, ok := t.links[key]
	if !ok {
		t.links[key] = name
		return false, nil
	}
	h, err := t.header(full, name, st)
	if err != nil {
		return true, err
	}
	h.Typeflag = tar.TypeLink
	h.Linkname = first
	h.PAXRecords = nil // the link shares the target's inode and xattrs
	return true, t.write(h)
}

// regularStat writes a regular file's header and exactly st.Size content bytes.
func (t *tarWriter) regularStat(f *os.File, full, name string, st *unix.Stat_t) error {
	h, err := t.header(full, name, st)
	if err != nil {
		return err
	}
	h.Size = st.Size
	if done, err := t.sparseRegular(f, full, h, st.Blocks); done || err != nil {
		return err
	}
	return t.regular(f, full, h)
}

// sameRoot tells whether x's root entry is the directory st describes: the same device and
// inode (an index of another tree cannot say what changed in this one).
func sameRoot(x *Index, st *unix.Stat_t) bool {
	return fsaccess.SameRoot(x, st)
}
