//go:build linux || darwin

package archive

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"golang.org/x/sys/unix"
)

// tree is the tests' shared description of a directory (internal/testrig/treediff).
type tree = treediff.Tree

// snapshot records root and everything below it; sockets are left out
// because archives skip them.
func snapshot(t testing.TB, root string) tree {
	t.Helper()
	tr := treediff.Of(t, root)
	for k, n := range tr {
		if n.Type == "socket" {
			delete(tr, k)
		}
	}
	return tr
}

func xattrString(t testing.TB, p string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return ""
	}
	var kv []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" || strings.HasPrefix(name, "security.selinux") {
			continue
		}
		v := make([]byte, 64<<10)
		vn, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			t.Fatalf("lgetxattr %s %s: %v", p, name, err)
		}
		kv = append(kv, name+"="+string(v[:vn]))
	}
	sort.Strings(kv)
	return strings.Join(kv, ";")
}

// diffTrees returns a readable list of differences (empty when equal).
func diffTrees(want, got tree, ignoreOwner bool) string {
	return strings.Join(treediff.Diff(want, got, treediff.Options{IgnoreOwner: ignoreOwner}), "\n")
}

// features says which optional parts a generated tree has.
type features struct {
	xattrs  bool
	owners  bool
	devices bool
}

func isRoot() bool { return os.Geteuid() == 0 }

// makeTree fills dir with every kind of thing an archive must keep.
func makeTree(t testing.TB, dir string) features {
	t.Helper()
	var f features
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, content string, perm os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(content), 0o644))
		must(os.Chmod(p, perm))
	}
	write("a/b/c/deep.txt", "deep\n", 0o644)
	write("a/setuid", "#!/bin/sh\n", 0o755|os.ModeSetuid|os.ModeSetgid)
	write("a/private", "secret\n", 0o600)
	write("a/readonly", "ro\n", 0o444)
	write("unicode-ü日本.txt", "ü\n", 0o644)
	write("with space", "space\n", 0o644)
	write("new\nline", "newline\n", 0o640)
	write("tab\there", "", 0o644)
	write(strings.Repeat("long-name-", 12), "long\n", 0o644)
	write("empty-file", "", 0o644)
	big := bytes.Repeat([]byte("0123456789abcdef log line\n"), 3<<20/26)
	must(os.WriteFile(filepath.Join(dir, "big.log"), big, 0o644))
	must(os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "sticky"), 0o755))
	must(os.Chmod(filepath.Join(dir, "sticky"), os.ModeSticky|0o777))
	write("ro-dir/inside", "x", 0o644)
	must(os.Chmod(filepath.Join(dir, "ro-dir"), 0o555))
	must(os.Symlink("/etc", filepath.Join(dir, "abs-link")))
	must(os.Symlink("../does/not/exist", filepath.Join(dir, "a/dangling")))
	must(os.Symlink("b/c/deep.txt", filepath.Join(dir, "a/rel-link")))
	write("hard/one", "shared inode\n", 0o640)
	must(os.Link(filepath.Join(dir, "hard/one"), filepath.Join(dir, "hard/two")))
	must(os.Link(filepath.Join(dir, "hard/one"), filepath.Join(dir, "a/three")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o620))
	// A socket: must be skipped without error.
	sock := filepath.Join(dir, "sock")
	if fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0); err == nil {
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
			t.Logf("no socket: %v", err)
		}
		unix.Close(fd)
	}
	if err := unix.Setxattr(filepath.Join(dir, "a/private"), "user.maim.test", []byte("value\x00bin"), 0); err == nil {
		must(unix.Setxattr(filepath.Join(dir, "a"), "user.maim.dir", []byte("d"), 0))
		must(unix.Setxattr(dir, "user.maim.root", []byte("r"), 0))
		f.xattrs = true
	} else if !errors.Is(err, unix.ENOTSUP) {
		t.Fatalf("setxattr: %v", err)
	}
	if isRoot() {
		must(os.Lchown(filepath.Join(dir, "a/private"), 1234, 5678))
		must(os.Lchown(filepath.Join(dir, "abs-link"), 4321, 8765))
		must(os.Lchown(filepath.Join(dir, "a"), 1000, 1000))
		must(os.Chown(dir, 999, 998))
		f.owners = true
		if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err == nil {
			f.devices = true
		}
	}
	must(os.Chmod(dir, 0o751))
	// Distinct nanosecond mtimes everywhere, directories last.
	var paths []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return nil
	})
	for i := len(paths) - 1; i >= 0; i-- {
		ts := []unix.Timespec{{Sec: 1600000000 + int64(i), Nsec: 123456789}, {Sec: 1500000000 + int64(i)*7, Nsec: int64(i)*1000 + 17}}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	return f
}
