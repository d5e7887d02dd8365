//go:build linux || darwin

package fsaccess

import (
	"io/fs"
	"syscall"
)

// fileKey identifies a file with more than one hard link; ok is false otherwise.
func fileKey(fi fs.FileInfo) (devIno, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink <= 1 {
		return devIno{}, false
	}
	return devIno{uint64(st.Dev), st.Ino}, true
}
