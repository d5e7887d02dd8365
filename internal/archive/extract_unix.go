//go:build linux || darwin

package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/exclude"
)

// readAll applies every entry from h on (rd's first, already read) to the end of the
// archive, checks the archive was not cut off, reads its tail and waits for the writer pool.
// Global headers go to global (nil: ignored): the delta's deletion list travels in them.
func (x *extractor) readAll(ctx context.Context, tr *trailerReader, rd *tar.Reader, h *tar.Header, global func(*tar.Header)) error {
	var contentEnd int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			if global != nil {
				global(h)
			}
		} else {
			if err := x.entry(h, rd); err != nil {
				return x.failed(err)
			}
			if err := x.pool.Err(); err != nil {
				return x.failed(err)
			}
		}
		contentEnd = tr.n
		var err error
		h, err = rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	if !tr.sawTrailer(contentEnd) {
		return errTruncated
	}
	if err := drain(tr); err != nil {
		return x.failed(fmt.Errorf("archive: %w", err))
	}
	return x.pool.close()
}

// extractDir applies a directory archive whose first entry h was read from rd.
func extractDir(ctx context.Context, tr *trailerReader, rd *tar.Reader, h *tar.Header, dest string, opts ExtractOptions) (Stats, error) {
	x, err := newExtractor(ctx, dest, opts)
	if err != nil {
		return Stats{}, err
	}
	defer x.close()
	if err := x.readAll(ctx, tr, rd, h, nil); err != nil {
		return x.stats, err
	}
	if err := x.prune(); err != nil {
		return x.stats, err
	}
	return x.stats, x.finish()
}

func newExtractor(ctx context.Context, dest string, opts ExtractOptions) (*extractor, error) {
	fresh := false
	fi, err := os.Lstat(dest)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return nil, err
		}
		fresh = true
	case err != nil:
		return nil, err
	case !fi.IsDir():
		if fi.Mode()&os.ModeSymlink != 0 {
			// A symlink to a directory is used as is (like `tar -C`).
			if st, err := os.Stat(dest); err == nil && st.IsDir() {
				break
			}
		}
		// Never replaced: a file where a directory archive goes is a caller's mistake or a
		// forged archive (a project file's), and the file is what the user has.
		return nil, fmt.Errorf("archive: %s is not a directory but the archive holds a directory", dest)
	}
	ex, err := exclude.New(opts.Excludes)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	x := &extractor{
		ctx:   ctx,
		dest:  dest,
		root:  root,
		opts:  opts,
		owner: opts.chown(),
		v:     newValidator(),
		buf:   make([]byte, copyBufSize),
		ex:    ex,
		dirs:  map[string]bool{"": fresh},
	}
	x.pool = newWritePool(x)
	return x, nil
}

// close stops the writers (skipping what they have queued when extraction failed) and
// closes the destination.
func (x *extractor) close() {
	x.pool.abort(context.Canceled)
	x.dropParent()
	x.root.Close()
}

// failed stops the writers after err ended the extraction and returns the error to report:
// a writer's own error when one failed first (err is then often only its echo).
func (x *extractor) failed(err error) error {
	if perr := x.pool.Err(); perr != nil {
		err = perr
	}
	x.pool.abort(err)
	return err
}

func (x *extractor) dropParent() {
	if x.parent != nil {
		x.parent.release()
		x.parent = nil
	}
}

// parentFD returns an open fd of dir (a verified directory) for *at calls.
func (x *extractor) parentFD(dir string) (int, error) {
	if x.parent != nil && x.parentRel == dir {
		return x.parent.fd(), nil
	}
	x.dropParent()
	name := dir
	if name == "" {
		name = "."
	}
	f, err := x.root.Open(name)
	if err != nil {
		return -1, err
	}
	d := &dirHandle{f: f, fdv: int(f.Fd())}
	d.refs.Store(1)
	x.parent, x.parentRel = d, dir
	return d.fdv, nil
}

// ensureDir makes sure rel is a real directory in dest, creating missing
// ones (archives made of plain file lists have no directory entries).
func (x *extractor) ensureDir(h *tar.Header, rel string) error {
	if _, ok := x.dirs[rel]; ok {
		return nil
	}
	dir, base := split(rel)
	if err := x.ensureDir(h, dir); err != nil {
		return err
	}
	if isDir, ok := x.v.seen[x.v.hash(rel)]; ok && !isDir {
		return &UnsafeEntryError{Name: h.Name, Reason: fmt.Sprintf("path leads through non-directory entry %q", rel)}
	}
	fd, err := x.parentFD(dir)
	if err != nil {
		return err
	}
	if err := x.keepExcluded(fd, h, rel, base); err != nil {
		return err
	}
	fresh, err := x.mkdir(fd, dir, base)
	if err != nil {
		return err
	}
	x.dirs[rel] = fresh
	x.v.seen[x.v.hash(rel)] = true
	return nil
}

// keepExcluded refuses to replace an excluded non-directory by the missing parent directory
// of an entry an exception re-included: a restore never removes an excluded path.
func (x *extractor) keepExcluded(fd int, h *tar.Header, rel, base string) error {
	if !x.ex.Match(rel) {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil // missing (mkdir creates it) or a directory (kept)
	}
	return fmt.Errorf("archive: %s is excluded and not a directory, but the archive holds %s below it: not replaced", rel, h.Name)
}

// mkdir creates dir/base as a directory, keeping an existing directory and
// replacing anything else. fresh reports whether it was created.
func (x *extractor) mkdir(fd int, dir, base string) (fresh bool, err error) {
	rel := path.Join(dir, base)
	err = unix.Mkdirat(fd, base, 0o700)
	if err == nil {
		return true, nil
	}
	if err != unix.EEXIST {
		return false, pathErr("mkdir", rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, pathErr("lstat", rel, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if os.Geteuid() != 0 && st.Mode&0o700 != 0o700 {
			// Make sure we can fill it; the final mode is set at the end.
			if err := unix.Fchmodat(fd, base, uint32(st.Mode&0o7777)|0o700, 0); err != nil {
				return false, pathErr("chmod", rel, err)
			}
		}
		return false, nil
	}
	if err := unix.Unlinkat(fd, base, 0); err != nil {
		return false, pathErr("remove", rel, err)
	}
	if err := unix.Mkdirat(fd, base, 0o700); err != nil {
		return false, pathErr("mkdir", rel, err)
	}
	return true, nil
}

// removeExisting removes whatever is at dir/base (a directory recursively).
func (x *extractor) removeExisting(fd int, dir, base string) error {
	rel := path.Join(dir, base)
	err := unix.Unlinkat(fd, base, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return pathErr("remove", rel, err)
	}
	// A directory: let the writers finish whatever they write below it, forget what we
	// knew about it and below, remove it.
	x.pool.waitAll()
	delete(x.dirs, rel)
	prefix := rel + "/"
	for k := range x.dirs {
		if strings.HasPrefix(k, prefix) {
			delete(x.dirs, k)
		}
	}
	if err := x.root.RemoveAll(rel); err != nil {
		return err
	}
	return nil
}

func setTimes(fd int, base, rel string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(fd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathErr("utimes", rel, err)
	}
	return nil
}

func xattrSkippable(name string, err error) bool {
	if err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
		return true
	}
	// Non-user namespaces (security.*, trusted.*, system.*) may be refused
	// by the kernel or an LSM for unprivileged users or on symlinks.
	return !strings.HasPrefix(name, "user.") && (err == unix.EPERM || err == unix.EACCES)
}

// attrsFD sets owner and xattrs of an open file or directory; mode and times
// of directories are applied by finish.
func (x *extractor) attrsFD(fd int, h *tar.Header, rel string) error {
	if x.owner {
		if err := unix.Fchown(fd, h.Uid, h.Gid); err != nil {
			return pathErr("chown", rel, err)
		}
	}
	for k, val := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := unix.Fsetxattr(fd, name, []byte(val), 0); err != nil && !xattrSkippable(name, err) {
				return pathErr("setxattr "+name, rel, err)
			}
		}
	}
	return nil
}

// dropStaleXattrs removes the extended attributes of a directory kept from before the
// extraction that the archive does not have (files and links are always recreated, so only
// directories can carry stale ones), in every namespace: user.*, trusted.*, security.*, ACLs
// (system.posix_acl_*). So a directory's xattr set is exactly the archive's, after Extract
// over older data as after ApplyDelta over the base, where the privilege allows (removing
// trusted.* and security.* needs CAP_SYS_ADMIN; a refusal is skipped, as setting them is).
// security.selinux is left: it is the label the host gives every inode, a directory the
// extraction creates has one too, and an archive that carries one sets it.
func dropStaleXattrs(fd int, h *tar.Header, rel string) error {
	buf := make([]byte, 4096)
	n, err := unix.Flistxattr(fd, buf)
	if err == unix.ERANGE {
		if sz, err2 := unix.Flistxattr(fd, nil); err2 == nil {
			buf = make([]byte, sz+1024)
			n, err = unix.Flistxattr(fd, buf)
		}
	}
	if err != nil {
		if err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
			return nil
		}
		return pathErr("listxattr", rel, err)
	}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" || name == "security.selinux" {
			continue
		}
		if _, ok := h.PAXRecords["SCHILY.xattr."+name]; ok {
			continue
		}
		if err := unix.Fremovexattr(fd, name); err != nil && err != unix.ENODATA && !xattrSkippable(name, err) {
			return pathErr("removexattr "+name, rel, err)
		}
	}
	return nil
}

// dropInherited removes the ACLs (system.posix_acl_access, system.posix_acl_default) that a
// file or directory just created in a directory with a default ACL inherited and the archive
// does not give it: a source file whose ACL was removed is restored without one.
func dropInherited(fd int, h *tar.Header, rel string) error {
	for _, name := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
		if _, ok := h.PAXRecords["SCHILY.xattr."+name]; ok {
			continue
		}
		err := unix.Fremovexattr(fd, name)
		if err != nil && err != unix.ENODATA && err != unix.ENOTDIR && err != unix.EACCES && !xattrSkippable(name, err) {
			return pathErr("removexattr "+name, rel, err)
		}
	}
	return nil
}

// prune removes everything below pre-existing directories that the archive
// does not contain.
func (x *extractor) prune() error {
	x.dropParent()
	var old []string
	for rel, fresh := range x.dirs {
		if !fresh {
			old = append(old, rel)
		}
	}
	sort.Strings(old)
	for _, rel := range old {
		if _, ok := x.dirs[rel]; !ok {
			continue // removed meanwhile
		}
		name := rel
		if name == "" {
			name = "."
		}
		names, err := x.readNames(name)
		if err != nil {
			return err
		}
		for _, n := range names {
			child := n
			if rel != "" {
				child = rel + "/" + n
			}
			if _, ok := x.v.seen[x.v.hash(child)]; ok {
				continue
			}
			if err := x.removeUnexcluded(child); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeUnexcluded removes rel (not in the archive) unless the excludes keep it. A real
// directory holding kept paths is emptied of the rest and stays. An excluded directory an
// exception may re-include something below stays too, and what below it is neither
// excluded nor in the archive is removed.
func (x *extractor) removeUnexcluded(rel string) error {
	if x.ex == nil {
		return x.root.RemoveAll(rel)
	}
	excluded := x.ex.Match(rel)
	if excluded && x.ex.Prune(rel) {
		return nil // left out by the backup: kept
	}
	fi, err := x.root.Lstat(rel)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if !fi.IsDir() {
		if excluded {
			return nil
		}
		return x.root.Remove(rel)
	}
	names, err := x.readNames(rel)
	if err != nil {
		return err
	}
	for _, n := range names {
		child := rel + "/" + n
		if _, ok := x.v.seen[x.v.hash(child)]; ok {
			continue // in the archive (below an excluded directory, re-included)
		}
		if err := x.removeUnexcluded(child); err != nil {
			return err
		}
	}
	if excluded {
		return nil
	}
	if err := x.root.Remove(rel); err != nil && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// finish applies directory modes and times, deepest first, then the root's.
func (x *extractor) finish() error {
	x.dropParent()
	sort.SliceStable(x.meta, func(i, j int) bool {
		return strings.Count(x.meta[i].rel, "/") > strings.Count(x.meta[j].rel, "/")
	})
	for _, m := range x.meta {
		if _, ok := x.dirs[m.rel]; !ok {
			continue // replaced by a later entry
		}
		dir, base := split(m.rel)
		fd, err := x.parentFD(dir)
		if err != nil {
			return err
		}
		dfd, err := unix.Openat(fd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return pathErr("open", m.rel, err)
		}
		err = unix.Fchmod(dfd, m.mode)
		unix.Close(dfd)
		if err != nil {
			return pathErr("chmod", m.rel, err)
		}
		if err := setTimes(fd, base, m.rel, m.atime, m.mtime); err != nil {
			return err
		}
	}
	x.dropParent()
	d, err := x.root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	if m := x.rootSet; m != nil {
		if err := unix.Fchmod(int(d.Fd()), m.mode); err != nil {
			return pathErr("chmod", x.dest, err)
		}
		atime := m.atime
		if atime.IsZero() {
			atime = m.mtime
		}
		if err := os.Chtimes(filepath.Join("/proc/self/fd", strconv.Itoa(int(d.Fd()))), atime, m.mtime); err != nil {
			if err := os.Chtimes(x.dest, atime, m.mtime); err != nil {
				return err
			}
		}
	}
	// Restores replace the only other copy of the data: make it durable.
	if err := syncFS(int(d.Fd())); err != nil {
		return pathErr(syncFSOp, x.dest, err)
	}
	return nil
}

// fileAttrs sets owner, xattrs and mode of the single-file archive's
// temporary file f (dest names it in errors).
func (x *extractor) fileAttrs(f *os.File, h *tar.Header, dest string) error {
	fd := int(f.Fd())
	if err := x.attrsFD(fd, h, dest); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(h.Mode)&0o7777); err != nil {
		return pathErr("chmod", f.Name(), err)
	}
	return nil
}

// readNames lists the names in directory rel of the destination (inside the root).
func (x *extractor) readNames(rel string) ([]string, error) {
	d, err := x.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// ApplyDelta applies the delta of a two-pass backup (WriteTar with WriteOptions.Since),
// read uncompressed from r, over dest, which must hold the extracted base (pass one):
// entries are written as Extract writes them (replacing what is there), nothing else is
// pruned, then the paths of the deletion list are removed (those opts.Excludes keep
// stay) and directory metadata is set. The deletion list comes last in the archive, so a
// truncated delta removes nothing. A stream that is not a delta is refused.
func ApplyDelta(ctx context.Context, r io.Reader, dest string, opts ExtractOptions) (Stats, error) {
	tr := &trailerReader{r: r}
	rd := tar.NewReader(tr)
	h, err := rd.Next()
	if err != nil {
		return Stats{}, fmt.Errorf("archive: %w", err)
	}
	if !isDeltaHeader(h) {
		return Stats{}, errors.New("archive: not the delta of a two-pass backup")
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return Stats{}, err
	}
	if !fi.IsDir() {
		return Stats{}, fmt.Errorf("archive: %s is not a directory: a delta applies over its extracted base", dest)
	}
	x, err := newExtractor(ctx, dest, opts)
	if err != nil {
		return Stats{}, err
	}
	defer x.close()
	x.stats.Delta = true
	var deleted []string
	if err := x.readAll(ctx, tr, rd, h, func(g *tar.Header) { deleted = append(deleted, deletedIn(g)...) }); err != nil {
		return x.stats, err
	}
	x.dropParent()
	for _, p := range deleted {
		rel, err := cleanName(p)
		if err != nil || rel == "" {
			return x.stats, &UnsafeEntryError{Name: p, Reason: "bad path in deletion list"}
		}
		parent, _ := split(rel)
		if _, ok := x.dirs[parent]; !ok {
			// Only below a directory of the delta (verified real, never a symlink).
			return x.stats, &UnsafeEntryError{Name: p, Reason: "deleted path is not below a directory of the delta"}
		}
		if _, ok := x.v.seen[x.v.hash(rel)]; ok {
			return x.stats, &UnsafeEntryError{Name: p, Reason: "deleted path is also an entry of the delta"}
		}
		if err := x.removeUnexcluded(rel); err != nil {
			return x.stats, err
		}
		x.stats.Deleted++
	}
	return x.stats, x.finish()
}
