package fsaccess

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// When two passes equal a cold archive.
//
// Pass two takes a regular file when its size, mtime, ctime, inode or type differ from what
// pass one recorded, or when its mtime or ctime is at or after pass one's start (less
// treeindex.CtimeMargin). A write(2) moves both times, so that rule misses nothing written with system
// calls. A store through a shared writable mapping (mmap MAP_SHARED: LMDB with WRITEMAP, Kafka
// indexes, JVM stores) is no system call: the kernel updates the times only in the write fault
// a store takes on a page that is clean (write-protected). A page dirtied before pass one and
// still dirty takes no fault on later stores, so without more they move no time.
//
// So pass one, after recording its start, writes back every dirty page of each file system it
// reads (syncfs on an fd of the root, and of every other file system it meets below it) before
// it reads anything there: writeback cleans each page and write-protects its mappings, so any
// later store faults and moves the file's mtime and ctime to a time after the start. A store
// before the syncfs is in the page cache when pass one reads the file (reads go through the
// page cache). Hence: with every file system of the tree on this list, and the data quiet
// (stopped) during pass two, base plus delta equals a cold archive of the tree at pass two.
//
// That holds only where writeback write-protects pages and the write fault updates the times
// (the file system's page_mkwrite calls file_update_time): ext2/3/4, xfs, btrfs and f2fs. It
// does not hold on tmpfs and ramfs (no writeback: a page stays writable for ever) nor on file
// systems whose times we cannot vouch for: overlayfs (the times are the upper layer's, whose
// kind statfs does not tell), ZFS (its own cache, mmap times unverified), network and FUSE file
// systems (times set by a server or a daemon), and anything else. A tree that is, or holds, such
// a file system is taken in one pass: Index.OnePass says why, pass two archives it whole.
var exactFS = map[int64]string{
	0xEF53:     "ext2/3/4",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0xF2F52010: "f2fs",
}

// knownFS names some file systems that are not exact, for the one-pass reason.
var knownFS = map[int64]string{
	0x01021994: "tmpfs",
	0x858458F6: "ramfs",
	0x794C7630: "overlayfs",
	0x2FC12FC1: "zfs",
	0x6969:     "nfs",
	0x65735546: "fuse",
	0xFF534D42: "cifs",
	0xFE534D42: "smb2",
	0x786F4256: "virtiofs",
	0x01021997: "9p",
}

// InexactFS returns why changes on the file system st describes cannot all be seen by their
// times ("" when they can: see exactFS).
func InexactFS(st *unix.Statfs_t) string {
	t := int64(st.Type)
	if _, ok := exactFS[t]; ok {
		return ""
	}
	name, ok := knownFS[t]
	if !ok {
		name = fmt.Sprintf("a file system of type 0x%x", t)
	}
	switch name {
	case "tmpfs", "ramfs":
		return name + " (no writeback: writes through a shared mapping move no ctime)"
	}
	return name + " (not known to move ctime on every write through a shared mapping)"
}

// Inexact returns InexactFS of the file system holding the open fd.
func Inexact(fd int) (string, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return "", err
	}
	return InexactFS(&st), nil
}
