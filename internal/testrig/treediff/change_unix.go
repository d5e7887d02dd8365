//go:build linux || darwin

package treediff

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// SameSizeSameMtime rewrites the file p with other bytes of the same length and puts its
// mtime back: only its ctime tells.
func SameSizeSameMtime(t testing.TB, p string) {
	t.Helper()
	var st unix.Stat_t
	check(t, unix.Lstat(p, &st))
	b, err := os.ReadFile(p)
	check(t, err)
	for i := range b {
		b[i] ^= 0x5a
	}
	check(t, os.WriteFile(p, b, 0))
	check(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW))
}

// ChangeEveryWay changes four existing files in the ways a walk that compares a tree with
// an index must each see: the first rewritten with its size and mtime put back, the second
// removed, the third swapped for a symlink, the fourth made a directory; and writes the new
// file added.
func ChangeEveryWay(t testing.TB, files [4]string, added string) {
	t.Helper()
	SameSizeSameMtime(t, files[0])
	check(t, os.Remove(files[1]))
	check(t, os.Remove(files[2]))
	check(t, os.Symlink("elsewhere", files[2]))
	check(t, os.Remove(files[3]))
	check(t, os.Mkdir(files[3], 0o700))
	check(t, os.WriteFile(added, []byte("added"), 0o644))
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
