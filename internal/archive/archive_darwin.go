package archive

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

// rdev returns the device number of a device node in unix.Major/Minor form
// (darwin's Stat_t.Rdev is an int32).
func rdev(st *unix.Stat_t) uint64 { return uint64(uint32(st.Rdev)) }

// mknodAt creates the fifo or device node base in the directory open as fd
// (rel is its path below the extraction root). darwin has no mknodat: the
// node is created by path below dest, whose parents Extract verified to be
// real directories; unlike on Linux, a concurrent rename of a parent into a
// symlink is not guarded against.
func (x *extractor) mknodAt(fd int, rel, base string, mode uint32, dev int) error {
	return unix.Mknod(x.atPath(fd, rel, base), mode, dev)
}

// atPath returns a path naming base in the directory open as fd, for the
// calls that have no *at form. darwin has no /proc/self/fd: the path is
// built from dest and rel (same caveat as mknodAt).
func (x *extractor) atPath(fd int, rel, base string) string {
	return filepath.Join(x.dest, filepath.FromSlash(rel))
}

// syncFS makes the extraction durable. darwin has no syncfs: fsync of the
// destination directory flushes its own entries; the files were written
// through the page cache like on Linux but are not individually synced.
func syncFS(fd int) error { return unix.Fsync(fd) }

const syncFSOp = "fsync"
