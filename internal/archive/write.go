package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WriteOptions tune WriteTar.
type WriteOptions struct {
	// Excludes are patterns relative to root, matched with filepath.Match
	// against each entry's relative path ("a/b/c", no leading "./") and
	// against its base name. A matching directory is skipped with all its
	// contents. "dir/**" keeps dir itself but skips everything below it.
	// A leading "./" or "/" and a trailing "/" are ignored.
	Excludes []string
	// Progress is called with content bytes as they are read.
	Progress func(n int64)
	// Warn, when set, is told about files that vanished or changed size while
	// being archived (hot backups). Such files never make WriteTar fail.
	Warn func(path string, err error)
}

const copyBufSize = 1 << 20

// WriteTar writes an uncompressed PAX tar of root to w. A directory root becomes entry "./"
// (carrying the root's own mode/owner/mtime) followed by "./a", "./a/b", ... in lexical order.
// A regular-file root becomes one entry named after its base name.
//
// A symlink given as root is followed; symlinks below root are archived as
// links. Files that vanish during the walk are skipped. A regular file whose
// size changes while it is read is written with exactly the size recorded in
// its header (zero-padded or truncated) and counted in Stats.Changed, so the
// archive stays valid. Sockets are skipped.
func WriteTar(ctx context.Context, w io.Writer, root string, opts WriteOptions) (Stats, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	tw := tar.NewWriter(bw)
	wr := &tarWriter{
		ctx:   ctx,
		tw:    tw,
		opts:  opts,
		buf:   make([]byte, copyBufSize),
		xlist: make([]byte, 4096),
		xval:  make([]byte, 4096),
		links: map[devIno]string{},
	}
	for _, p := range opts.Excludes {
		wr.addExclude(p)
	}

	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return wr.stats, &os.PathError{Op: "stat", Path: root, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := wr.dir(root, "", &st); err != nil {
			return wr.stats, err
		}
	case unix.S_IFREG:
		f, err := os.Open(root)
		if err != nil {
			return wr.stats, err
		}
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			f.Close()
			return wr.stats, &os.PathError{Op: "fstat", Path: root, Err: err}
		}
		err = wr.regular(f, root, filepath.Base(root), &st)
		f.Close()
		if err != nil {
			return wr.stats, err
		}
	default:
		return wr.stats, fmt.Errorf("archive: %s is neither a directory nor a regular file", root)
	}
	if err := tw.Close(); err != nil {
		return wr.stats, err
	}
	return wr.stats, bw.Flush()
}

type devIno struct{ dev, ino uint64 }

type tarWriter struct {
	ctx   context.Context
	tw    *tar.Writer
	opts  WriteOptions
	stats Stats
	buf   []byte
	xlist []byte
	xval  []byte
	links map[devIno]string

	exNames []string // patterns matched against path and base name
	exBelow []string // "dir/**": patterns matched against ancestors
}

func (t *tarWriter) addExclude(p string) {
	p = strings.TrimPrefix(filepath.ToSlash(p), "./")
	p = strings.TrimLeft(p, "/")
	p = strings.TrimRight(p, "/")
	if p == "" {
		return
	}
	if strings.HasSuffix(p, "/**") {
		t.exBelow = append(t.exBelow, strings.TrimSuffix(p, "/**"))
		return
	}
	t.exNames = append(t.exNames, p)
}

// excluded reports whether rel (slash separated, no leading "./") is excluded.
// Ancestors are checked by the walk itself (an excluded dir is not entered),
// except for "dir/**" patterns which are checked against the parent chain.
func (t *tarWriter) excluded(rel string) bool {
	base := path.Base(rel)
	for _, p := range t.exNames {
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	if len(t.exBelow) > 0 {
		for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
			for _, p := range t.exBelow {
				if ok, _ := path.Match(p, dir); ok {
					return true
				}
			}
		}
	}
	return false
}

func (t *tarWriter) warn(p string, err error) {
	if t.opts.Warn != nil {
		t.opts.Warn(p, err)
	}
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

func (t *tarWriter) write(h *tar.Header) error {
	if err := t.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("archive: write header %q: %w", h.Name, err)
	}
	t.stats.Entries++
	return nil
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
	names, err := f.Readdirnames(-1)
	if err != nil {
		if rel != "" && vanished(err) {
			return nil
		}
		return &os.PathError{Op: "readdir", Path: full, Err: err}
	}
	f.Close()
	sort.Strings(names)
	for _, n := range names {
		childRel := n
		if rel != "" {
			childRel = rel + "/" + n
		}
		if t.excluded(childRel) {
			continue
		}
		if err := t.entry(full+"/"+n, childRel); err != nil {
			return err
		}
	}
	return nil
}

// entry archives one path below the root.
func (t *tarWriter) entry(full, rel string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		if vanished(err) {
			t.warn(full, err)
			return nil
		}
		return &os.PathError{Op: "lstat", Path: full, Err: err}
	}
	name := "./" + rel
	typ := st.Mode & unix.S_IFMT
	switch typ {
	case unix.S_IFDIR:
		return t.dir(full, rel, &st)
	case unix.S_IFSOCK:
		return nil
	case unix.S_IFREG:
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
		if st.Nlink > 1 {
			if done, err := t.hardlink(full, name, &st); done || err != nil {
				return err
			}
		}
		return t.regular(f, full, name, &st)
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
		h.Devmajor = int64(unix.Major(st.Rdev))
		h.Devminor = int64(unix.Minor(st.Rdev))
	default:
		return nil
	}
	return t.write(h)
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

// regular writes a regular file's header and exactly st.Size content bytes.
func (t *tarWriter) regular(f *os.File, full, name string, st *unix.Stat_t) error {
	h, err := t.header(full, name, st)
	if err != nil {
		return err
	}
	h.Typeflag = tar.TypeReg
	h.Size = st.Size
	if err := t.write(h); err != nil {
		return err
	}
	t.stats.Files++
	remain := st.Size
	changed := false
	for remain > 0 {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		b := t.buf
		if int64(len(b)) > remain {
			b = b[:remain]
		}
		n, rerr := io.ReadFull(f, b)
		if n > 0 {
			if _, err := t.tw.Write(b[:n]); err != nil {
				return fmt.Errorf("archive: write %q: %w", name, err)
			}
			remain -= int64(n)
			t.stats.Bytes += int64(n)
			if t.opts.Progress != nil {
				t.opts.Progress(int64(n))
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			// The file shrank: pad with zeros to the size in the header.
			changed = true
			clear(t.buf)
			for remain > 0 {
				z := t.buf
				if int64(len(z)) > remain {
					z = z[:remain]
				}
				if _, err := t.tw.Write(z); err != nil {
					return fmt.Errorf("archive: write %q: %w", name, err)
				}
				remain -= int64(len(z))
				t.stats.Bytes += int64(len(z))
			}
			break
		}
		if rerr != nil {
			return &os.PathError{Op: "read", Path: full, Err: rerr}
		}
	}
	if !changed {
		// Did the file grow? One byte more than the header size means yes.
		if n, _ := f.Read(t.buf[:1]); n > 0 {
			changed = true
		}
	}
	if changed {
		t.stats.Changed++
		t.warn(full, errors.New("file changed size while being archived"))
	}
	return nil
}
