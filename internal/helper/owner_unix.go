//go:build unix

package helper

import (
	"fmt"
	"os"
	"syscall"
)

// ensureOwner makes f owned by uid:gid (-1: unchanged) when it is not already: the archive
// the helper writes as root into a user's backup dir stays the user's.
func ensureOwner(f *os.File, uid, gid int) error {
	if uid < 0 && gid < 0 {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (uid < 0 || int(st.Uid) == uid) && (gid < 0 || int(st.Gid) == gid) {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil {
		return fmt.Errorf("giving the archive to %d:%d: %w", uid, gid, err)
	}
	return nil
}
