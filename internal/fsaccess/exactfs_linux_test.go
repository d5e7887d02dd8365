package fsaccess

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// InexactFS vouches for exactly the file systems whose write fault moves the times after a
// writeback (ext2/3/4, xfs, btrfs, f2fs), and names every other one in its reason: tmpfs and
// ramfs for their missing writeback, a known name, or the unknown type in hex.
func TestInexactFS(t *testing.T) {
	for _, tc := range []struct {
		typ  int64
		want string // "" exact; otherwise a substring of the reason
	}{
		{0xEF53, ""},
		{0x58465342, ""},
		{0x9123683E, ""},
		{0xF2F52010, ""},
		{0x01021994, "tmpfs (no writeback"},
		{0x858458F6, "ramfs (no writeback"},
		{0x794C7630, "overlayfs (not known"},
		{0x2FC12FC1, "zfs (not known"},
		{0x6969, "nfs (not known"},
		{0x65735546, "fuse (not known"},
		{0x786F4256, "virtiofs (not known"},
		{0x01021997, "9p (not known"},
		{0x12345678, "a file system of type 0x12345678 (not known"},
	} {
		got := InexactFS(statfsOfType(tc.typ))
		if tc.want == "" {
			if got != "" {
				t.Errorf("type 0x%x: %q, want exact", tc.typ, got)
			}
			continue
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("type 0x%x: %q, want a reason starting %q", tc.typ, got, tc.want)
		}
	}
}

// Inexact asks the file system of the open descriptor: a tmpfs (/dev/shm where there is one)
// is not exact, and the answer for any directory is InexactFS of its statfs.
func TestInexact(t *testing.T) {
	check := func(t *testing.T, dir string) string {
		t.Helper()
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := Inexact(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		if want := InexactFS(&st); got != want {
			t.Fatalf("%s: Inexact = %q, InexactFS of its statfs = %q", dir, got, want)
		}
		return got
	}
	check(t, t.TempDir())
	var shm unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &shm); err != nil || shm.Type != 0x01021994 {
		t.Skip("no tmpfs at /dev/shm")
	}
	if got := check(t, "/dev/shm"); !strings.HasPrefix(got, "tmpfs") {
		t.Errorf("/dev/shm (a tmpfs): %q, want a tmpfs reason", got)
	}
	if _, err := Inexact(-1); err == nil {
		t.Error("Inexact of a closed descriptor gave no error")
	}
}

// statfsOfType is a statfs result of file-system type typ (the field's Go type differs
// between architectures).
func statfsOfType(typ int64) *unix.Statfs_t {
	var st unix.Statfs_t
	if v := reflect.ValueOf(&st.Type).Elem(); v.CanInt() {
		v.SetInt(typ)
	} else {
		v.SetUint(uint64(typ))
	}
	return &st
}
