//go:build unix

package helper

import (
	"os"
	"syscall"
)

// ownerOf is the owner of the file fi describes, when the system has one.
func ownerOf(fi os.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
