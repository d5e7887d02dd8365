//go:build linux || darwin

package archive

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// entry applies one entry of a directory archive: checked (a hostile entry is refused
// before anything is written), skipped when the excludes keep its path, then applied by its
// kind: the root's attributes, a small regular file to the writers, a directory, a larger
// regular file, a symlink, a hardlink, a fifo or device node. Symlinks, fifos and devices
// then get their attributes through their parent directory (linkAttrs).
func (x *extractor) entry(h *tar.Header, rd *tar.Reader) error {
	rel, err := cleanName(h.Name)
	if err != nil {
		return err
	}
	prevDir, seen := x.v.seen[x.v.hash(rel)]
	if err := x.v.check(h, rel, x.opts.AllowDevices); err != nil {
		return err
	}
	x.stats.Entries++
	if x.ex.Match(rel) {
		// Left out by the backup: whatever is there now stays. Read past the content.
		if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA {
			x.stats.Files++
			return x.copy(io.Discard, rd, rel)
		}
		return nil
	}
	if rel == "" {
		return x.rootEntry(h)
	}
	dir, base := split(rel)
	if err := x.ensureDir(h, dir); err != nil {
		return err
	}
	fd, err := x.parentFD(dir)
	if err != nil {
		return err
	}
	if (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA) && h.Size <= poolMaxFileBytes && !(seen && prevDir) && !isSparse(h) {
		// A small file (not replacing a directory of the archive): to the writers.
		x.pool.wait(rel)
		x.stats.Files++
		return x.pool.add(dir, base, rel, h, rd)
	}
	if seen {
		x.pool.wait(rel) // a duplicate entry: after what the writers do at rel
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return x.dirEntry(fd, dir, base, rel, h)
	case tar.TypeReg, tar.TypeRegA:
		return x.regular(fd, dir, base, rel, h, rd)
	case tar.TypeSymlink:
		err = x.symlink(fd, dir, base, rel, h)
	case tar.TypeLink:
		return x.hardlink(fd, dir, base, rel, h)
	case tar.TypeFifo, tar.TypeChar, tar.TypeBlock:
		err = x.node(fd, dir, base, rel, h)
	}
	if err != nil {
		return err
	}
	return x.linkAttrs(dir, base, rel, h)
}

// rootEntry applies the root entry "./": its owner and xattrs now, its mode and times at
// the end (finish).
func (x *extractor) rootEntry(h *tar.Header) error {
	m := dirMeta{rel: "", mode: uint32(h.Mode) & 0o7777, mtime: h.ModTime, atime: h.AccessTime}
	x.rootSet = &m
	fd, err := x.parentFD("")
	if err != nil {
		return err
	}
	if !x.dirs[""] {
		if err := dropStaleXattrs(fd, h, x.dest); err != nil {
			return err
		}
	}
	x.noteDefACL("", h)
	return x.attrsFD(fd, h, "")
}

// dirEntry makes dir/base a directory (kept when it is one) with the entry's owner and
// xattrs; its mode and times are set at the end (finish).
func (x *extractor) dirEntry(fd int, dir, base, rel string, h *tar.Header) error {
	fresh, err := x.mkdir(fd, dir, base)
	if err != nil {
		return err
	}
	x.dirs[rel] = fresh
	x.meta = append(x.meta, dirMeta{rel: rel, mode: uint32(h.Mode) & 0o7777, mtime: h.ModTime, atime: h.AccessTime})
	dfd, err := unix.Openat(fd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("open", rel, err)
	}
	if !fresh {
		err = dropStaleXattrs(dfd, h, rel)
	} else if x.inherits(dir) {
		err = dropInherited(dfd, h, rel)
	}
	if err == nil {
		err = x.attrsFD(dfd, h, rel)
	}
	unix.Close(dfd)
	x.noteDefACL(rel, h)
	return err
}

// symlink creates the symlink dir/base, replacing what is there.
func (x *extractor) symlink(fd int, dir, base, rel string, h *tar.Header) error {
	err := unix.Symlinkat(h.Linkname, fd, base)
	if err == unix.EEXIST {
		if err = x.removeExisting(fd, dir, base); err == nil {
			fd, err = x.parentFD(dir)
			if err == nil {
				err = unix.Symlinkat(h.Linkname, fd, base)
			}
		}
	}
	if err != nil {
		return pathErr("symlink", rel, err)
	}
	return nil
}

// hardlink links rel to its target (extracted before), replacing what is there. A hardlink
// shares its target's inode: nothing else to set.
func (x *extractor) hardlink(fd int, dir, base, rel string, h *tar.Header) error {
	target, _ := cleanName(h.Linkname)
	x.pool.wait(target)
	err := x.root.Link(target, rel)
	if errors.Is(err, os.ErrExist) {
		if err = x.removeExisting(fd, dir, base); err == nil {
			err = x.root.Link(target, rel)
		}
	}
	if err != nil {
		return err
	}
	return nil
}

// node creates the fifo or device node dir/base, replacing what is there.
func (x *extractor) node(fd int, dir, base, rel string, h *tar.Header) error {
	mode := uint32(unix.S_IFIFO)
	dev := 0
	switch h.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
		dev = int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))
	case tar.TypeBlock:
		mode = unix.S_IFBLK
		dev = int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))
	}
	err := x.mknodAt(fd, rel, base, mode|0o600, dev)
	if err == unix.EEXIST {
		if err = x.removeExisting(fd, dir, base); err == nil {
			fd, err = x.parentFD(dir)
			if err == nil {
				err = x.mknodAt(fd, rel, base, mode|0o600, dev)
			}
		}
	}
	if err != nil {
		return pathErr("mknod", rel, err)
	}
	return nil
}

// linkAttrs sets owner, xattrs, mode (not of a symlink) and times of a symlink, fifo or
// device through its parent directory's fd.
func (x *extractor) linkAttrs(dir, base, rel string, h *tar.Header) error {
	fd, err := x.parentFD(dir)
	if err != nil {
		return err
	}
	if x.owner {
		if err := unix.Fchownat(fd, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("lchown", rel, err)
		}
	}
	if len(h.PAXRecords) > 0 {
		p := x.atPath(fd, rel, base)
		for k, val := range h.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if err := unix.Lsetxattr(p, name, []byte(val), 0); err != nil && !xattrSkippable(name, err) {
					return pathErr("lsetxattr "+name, rel, err)
				}
			}
		}
	}
	if h.Typeflag != tar.TypeSymlink {
		if err := unix.Fchmodat(fd, base, uint32(h.Mode)&0o7777, 0); err != nil {
			return pathErr("chmod", rel, err)
		}
	}
	return setTimes(fd, base, rel, h.AccessTime, h.ModTime)
}

func (x *extractor) regular(fd int, dir, base, rel string, h *tar.Header, rd *tar.Reader) error {
	x.pool.flush() // the writers work on what is queued while this one is copied
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	ffd, err := unix.Openat(fd, base, flags, 0o600)
	if err == unix.EEXIST {
		if err = x.removeExisting(fd, dir, base); err == nil {
			if fd, err = x.parentFD(dir); err == nil {
				ffd, err = unix.Openat(fd, base, flags, 0o600)
			}
		}
	}
	if err != nil {
		return pathErr("create", rel, err)
	}
	f := os.NewFile(uintptr(ffd), rel)
	defer f.Close()
	if x.inherits(dir) {
		if err := dropInherited(ffd, h, rel); err != nil {
			return err
		}
	}
	x.stats.Files++
	copyErr := error(nil)
	if isSparse(h) {
		copyErr = x.copySparse(f, rd, rel)
	} else {
		copyErr = x.copy(f, rd, rel)
	}
	if copyErr != nil {
		return copyErr
	}
	if err := x.attrsFD(ffd, h, rel); err != nil {
		return err
	}
	if err := unix.Fchmod(ffd, uint32(h.Mode)&0o7777); err != nil {
		return pathErr("chmod", rel, err)
	}
	if err := f.Close(); err != nil {
		return pathErr("close", rel, err)
	}
	return setTimes(fd, base, rel, h.AccessTime, h.ModTime)
}
