//go:build linux || darwin

package treediff

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Read describes root and everything below it (root may be a single file). Extended
// attributes are read without security.selinux (set by the host, not by a copy).
func Read(root string) (Tree, error) {
	out := Tree{}
	inodes := map[[2]uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n := Node{Mode: uint32(st.Mode & 0o7777), UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Nano()}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			n.Type = "dir"
		case unix.S_IFREG:
			n.Type = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			n.Size, n.SHA = int64(len(b)), hex.EncodeToString(s[:8])
		case unix.S_IFLNK:
			n.Type, n.Mode = "symlink", 0
			if n.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case unix.S_IFIFO:
			n.Type = "fifo"
		case unix.S_IFSOCK:
			n.Type = "socket"
		case unix.S_IFCHR:
			n.Type, n.Rdev = "char", uint64(st.Rdev)
		case unix.S_IFBLK:
			n.Type, n.Rdev = "block", uint64(st.Rdev)
		default:
			n.Type = fmt.Sprintf("other(%o)", st.Mode&unix.S_IFMT)
		}
		if n.Type != "dir" && st.Nlink > 1 {
			k := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
			if _, ok := inodes[k]; !ok {
				inodes[k] = rel
			}
			n.HardOf = inodes[k]
		}
		if n.Xattrs, err = xattrs(p); err != nil {
			return err
		}
		out[rel] = n
		return nil
	})
	return out, err
}

// xattrs returns p's extended attributes but security.selinux, nil when it has none.
func xattrs(p string) (map[string]string, error) {
	buf := make([]byte, 64<<10)
	sz, err := unix.Llistxattr(p, buf)
	if err != nil || sz == 0 {
		return nil, nil // no xattrs, or a file system without them
	}
	var out map[string]string
	for _, k := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if k == "" || strings.HasPrefix(k, "security.selinux") {
			continue
		}
		v := make([]byte, 64<<10)
		n, err := unix.Lgetxattr(p, k, v)
		if err != nil {
			return nil, fmt.Errorf("lgetxattr %s %s: %w", p, k, err)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = string(v[:n])
	}
	return out, nil
}
