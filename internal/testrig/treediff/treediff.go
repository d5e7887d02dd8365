package treediff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
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
