//go:build unix

package config

import (
	"io/fs"
	"os"
	"syscall"
)

type owner struct {
	known    bool
	uid, gid int
}

func ownerOf(fi fs.FileInfo) owner {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return owner{known: true, uid: int(st.Uid), gid: int(st.Gid)}
	}
	return owner{}
}

func chownLike(f *os.File, o owner) error {
	if !o.known {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if cur := ownerOf(fi); cur.known && cur.uid == o.uid && cur.gid == o.gid {
		return nil
	}
	return f.Chown(o.uid, o.gid)
}
