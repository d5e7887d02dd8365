//go:build linux || darwin

package treediff

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, p, s string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// Every change a copy may get wrong is a difference; the options relax only theirs.
func TestDiffFindsEveryChange(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a/file"), "alpha", 0o640)
	write(t, filepath.Join(dir, "b"), "beta", 0o600)
	if err := os.Symlink("a/file", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "a/file"), filepath.Join(dir, "hard")); err != nil {
		t.Fatal(err)
	}
	base := Of(t, dir)
	if d := Diff(base, Of(t, dir), Options{}); len(d) != 0 {
		t.Fatalf("a tree differs from itself: %q", d)
	}
	if n := base["hard"]; n.HardOf != "a/file" || base["a/file"].HardOf != "a/file" || base["link"].Link != "a/file" || base["b"].Size != 4 {
		t.Fatalf("description %+v", base)
	}

	changes := []struct {
		name   string
		change func(t *testing.T)
		want   string // a substring of the one difference
	}{
		{"content", func(t *testing.T) { write(t, filepath.Join(dir, "b"), "BETA", 0o600) }, `"b":`},
		{"mode", func(t *testing.T) { os.Chmod(filepath.Join(dir, "b"), 0o644) }, `"b":`},
		{"mtime", func(t *testing.T) {
			os.Chtimes(filepath.Join(dir, "b"), time.Unix(1, 5), time.Unix(1, 5))
		}, `"b":`},
		{"symlink target", func(t *testing.T) {
			os.Remove(filepath.Join(dir, "link"))
			os.Symlink("b", filepath.Join(dir, "link"))
		}, `"link":`},
		{"missing", func(t *testing.T) { os.Remove(filepath.Join(dir, "b")) }, `missing "b"`},
		{"extra", func(t *testing.T) { write(t, filepath.Join(dir, "c"), "", 0o600) }, `extra "c"`},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			before := Of(t, dir)
			c.change(t)
			d := Diff(before, Of(t, dir), Options{NoRootMtime: true})
			var rest []string
			for _, x := range d {
				if !strings.HasPrefix(x, `"a":`) && !strings.HasPrefix(x, `"."`) {
					rest = append(rest, x)
				}
			}
			if len(rest) != 1 || !strings.Contains(rest[0], c.want) {
				t.Errorf("differences %q, want one with %q", d, c.want)
			}
		})
	}
}

// The options relax only what they name.
func TestDiffOptions(t *testing.T) {
	n := Node{Type: "file", Mode: 0o644, UID: 1, GID: 2, Mtime: 1_500_000_000, Xattrs: map[string]string{"user.a": "1", "trusted.b": "2"}}
	m := n
	m.UID, m.GID, m.Mtime, m.Xattrs = 3, 4, 1_900_000_000, map[string]string{"user.a": "1"}
	want, got := Tree{"f": n}, Tree{"f": m}
	if len(Diff(want, got, Options{IgnoreOwner: true, SecondMtime: true})) != 1 {
		t.Errorf("the xattrs differ")
	}
	if d := Diff(want, got, Options{IgnoreOwner: true, SecondMtime: true, UserXattrsOnly: true}); len(d) != 0 {
		t.Errorf("only owner, sub-second mtime and non-user xattrs differ: %q", d)
	}
	if len(Diff(want, got, Options{SecondMtime: true, NoXattrs: true})) != 1 {
		t.Errorf("the owner differs")
	}
	l := Node{Type: "symlink", Link: "x", Mtime: 5}
	if d := Diff(Tree{"l": l}, Tree{"l": {Type: "symlink", Link: "x", Mtime: 6}}, Options{NoSymlinkTimes: true}); len(d) != 0 {
		t.Errorf("symlink times: %q", d)
	}
}
