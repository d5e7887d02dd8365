//go:build unix

package backup

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// freeBytes is the space available to this user where path is (or its nearest
// existing parent); -1 when unknown.
func freeBytes(path string) int64 {
	for p := path; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			var st unix.Statfs_t
			if unix.Statfs(p, &st) != nil {
				return -1
			}
			return int64(st.Bavail) * int64(st.Bsize)
		}
		if p == filepath.Dir(p) {
			return -1
		}
	}
}
