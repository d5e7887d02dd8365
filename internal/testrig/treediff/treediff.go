//go:build linux || darwin

package treediff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Node is everything a copy of a tree may have to preserve about one path.
type Node struct {
	Type   string            `json:"type"` // dir, file, symlink, fifo, socket, char, block
	Mode   uint32            `json:"mode"` // permission and special bits (0 for a symlink: not settable on Linux)
	UID    uint32            `json:"uid"`
	GID    uint32            `json:"gid"`
	Size   int64             `json:"size,omitempty"` // regular files
	SHA    string            `json:"sha,omitempty"`  // regular files: the first 8 bytes of the content's sha256, hex
	Link   string            `json:"link,omitempty"` // symlink target
	Mtime  int64             `json:"mtime"`          // ns
	HardOf string            `json:"hard,omitempty"` // a non-directory with more than one link: the first path (in walk order) of its inode
	Rdev   uint64            `json:"rdev,omitempty"` // character and block devices
	Xattrs map[string]string `json:"xattrs,omitempty"`
}

// Tree is a directory's description: relative slash-separated path ("." for the root) to Node.
type Tree map[string]Node

// Of is Read that fails the test on error.
func Of(t testing.TB, root string) Tree {
	t.Helper()
	tr, err := Read(root)
	if err != nil {
		t.Fatalf("treediff: reading %s: %v", root, err)
	}
	return tr
}

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

// Options are the relaxations of a comparison: what the copy under test does not keep.
type Options struct {
	IgnoreOwner    bool // UID and GID (a copy made without the right to chown)
	NoSymlinkTimes bool // a symlink's mtime
	SecondMtime    bool // mtimes to the second only
	NoRootMtime    bool // the root's mtime
	NoXattrs       bool // extended attributes
	UserXattrsOnly bool // extended attributes but user.*
}

func (o Options) normalize(rel string, n Node) Node {
	if o.IgnoreOwner {
		n.UID, n.GID = 0, 0
	}
	if o.NoSymlinkTimes && n.Type == "symlink" {
		n.Mtime = 0
	}
	if o.SecondMtime {
		n.Mtime = n.Mtime / 1e9 * 1e9
	}
	if o.NoRootMtime && rel == "." {
		n.Mtime = 0
	}
	if o.NoXattrs {
		n.Xattrs = nil
	}
	if o.UserXattrsOnly && n.Xattrs != nil {
		user := map[string]string{}
		for k, v := range n.Xattrs {
			if strings.HasPrefix(k, "user.") {
				user[k] = v
			}
		}
		n.Xattrs = user
		if len(user) == 0 {
			n.Xattrs = nil
		}
	}
	return n
}

// Diff lists the differences of got from want, one readable entry per path (missing,
// extra, or both nodes), in path order; none when the trees are the same under o.
func Diff(want, got Tree, o Options) []string {
	var paths []string
	for k := range want {
		paths = append(paths, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	var diffs []string
	for _, k := range paths {
		w, okw := want[k]
		g, okg := got[k]
		switch {
		case !okg:
			diffs = append(diffs, fmt.Sprintf("missing %q", k))
		case !okw:
			diffs = append(diffs, fmt.Sprintf("extra %q", k))
		default:
			wj, _ := json.Marshal(o.normalize(k, w))
			gj, _ := json.Marshal(o.normalize(k, g))
			if string(wj) != string(gj) {
				diffs = append(diffs, fmt.Sprintf("%q:\n  want %s\n  got  %s", k, wj, gj))
			}
		}
	}
	return diffs
}

// AssertSame fails the test with the first 20 differences when got differs from want.
func AssertSame(t testing.TB, want, got Tree, o Options) {
	t.Helper()
	if d := Diff(want, got, o); len(d) > 0 {
		if len(d) > 20 {
			d = append(d[:20], fmt.Sprintf("... and %d more", len(d)-20))
		}
		t.Fatalf("trees differ:\n%s", strings.Join(d, "\n"))
	}
}
