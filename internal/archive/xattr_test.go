//go:build linux

package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// posixACL encodes an access ACL (user::rwx user:uid:r-x group::r-x mask::r-x other::r-x) the
// way the kernel stores it in system.posix_acl_access.
func posixACL(uid uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{0x01, 7, ^uint32(0)}, {0x02, 5, uid}, {0x04, 5, ^uint32(0)}, {0x10, 5, ^uint32(0)}, {0x20, 5, ^uint32(0)}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// TestTwoPassDropsRemovedXattrs: extended attributes of every namespace (an ACL, trusted.*,
// user.*) removed from directories between the passes are gone after base plus delta, as they
// are after a cold restore: the delta's directories carry their whole xattr set.
func TestTwoPassDropsRemovedXattrs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("trusted.* xattrs need root (CI runs as root)")
	}
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "d", "f"), []byte("f"), 0o644))
	set := map[string][]byte{"trusted.maim": []byte("t"), "user.maim": []byte("u"), "system.posix_acl_access": posixACL(1000)}
	for _, dir := range []string{src, filepath.Join(src, "d")} {
		for k, v := range set {
			if err := unix.Setxattr(dir, k, v, 0); err != nil {
				if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
					t.Skipf("setxattr %s: not supported here", k)
				}
				t.Fatalf("setxattr %s: %v", k, err)
			}
		}
	}
	base, delta, _, _ := twoPass(t, src, func() {
		for _, dir := range []string{src, filepath.Join(src, "d")} {
			for k := range set {
				must(t, unix.Removexattr(dir, k))
			}
		}
		must(t, unix.Setxattr(filepath.Join(src, "d"), "trusted.kept", []byte("k"), 0))
	})
	dest := filepath.Join(t.TempDir(), "dest")
	extractAll(t, dest, base, delta)
	for _, rel := range []string{"", "d"} {
		want, got := xattrString(t, filepath.Join(src, rel)), xattrString(t, filepath.Join(dest, rel))
		if want != got {
			t.Errorf("%q: xattrs %q after two-pass restore, want %q", rel, got, want)
		}
	}
	// A cold restore over the same destination gives the same.
	var cold bytes.Buffer
	_, err := WriteTar(context.Background(), &cold, src, WriteOptions{})
	must(t, err)
	must(t, unix.Setxattr(filepath.Join(dest, "d"), "trusted.stale", []byte("s"), 0))
	must(t, unix.Setxattr(filepath.Join(dest, "d"), "system.posix_acl_access", posixACL(7), 0))
	extractAll(t, dest, cold.Bytes())
	if want, got := xattrString(t, filepath.Join(src, "d")), xattrString(t, filepath.Join(dest, "d")); want != got {
		t.Errorf("d: xattrs %q after a cold restore over a kept directory, want %q", got, want)
	}
}

// TestRestoreDropsInheritedACLs: below a directory with a default ACL, what the extraction
// creates inherits ACLs; a file or directory whose ACL the source removed is restored
// without one (small files go through the writer pool, big ones not).
func TestRestoreDropsInheritedACLs(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(filepath.Join(src, "acl", "sub"), 0o755))
	must(t, os.MkdirAll(filepath.Join(src, "acl", "subkeeps"), 0o755))
	if err := unix.Setxattr(filepath.Join(src, "acl"), "system.posix_acl_default", posixACL(1000), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			t.Skip("no ACLs here")
		}
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		size int
	}{{"small", 10}, {"small-keeps", 10}, {"big", 4 << 20}, {"big-keeps", 4 << 20}} {
		must(t, os.WriteFile(filepath.Join(src, "acl", f.name), bytes.Repeat([]byte("x"), f.size), 0o644))
	}
	for _, rel := range []string{"acl/small-keeps", "acl/big-keeps", "acl/subkeeps"} {
		must(t, unix.Setxattr(filepath.Join(src, rel), "system.posix_acl_access", posixACL(1000), 0))
	}
	must(t, unix.Setxattr(filepath.Join(src, "acl/subkeeps"), "system.posix_acl_default", posixACL(1000), 0))
	for _, rel := range []string{"acl/small", "acl/big", "acl/sub"} {
		for _, n := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
			if err := unix.Removexattr(filepath.Join(src, rel), n); err != nil && !errors.Is(err, unix.ENODATA) {
				t.Fatal(err)
			}
		}
	}
	var cold bytes.Buffer
	_, err := WriteTar(context.Background(), &cold, src, WriteOptions{})
	must(t, err)
	dest := filepath.Join(t.TempDir(), "dest")
	extractAll(t, dest, cold.Bytes())
	for _, rel := range []string{"acl", "acl/small", "acl/big", "acl/sub", "acl/small-keeps", "acl/big-keeps", "acl/subkeeps"} {
		if want, got := xattrString(t, filepath.Join(src, rel)), xattrString(t, filepath.Join(dest, rel)); want != got {
			t.Errorf("%s: xattrs %q after restore, want %q", rel, got, want)
		}
	}
}
