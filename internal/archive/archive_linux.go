package archive

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// rdev returns the device number of a device node in unix.Major/Minor form.
func rdev(st *unix.Stat_t) uint64 { return st.Rdev }

// mknodAt creates the fifo or device node base in the directory open as fd
// (rel is its path below the extraction root).
func (x *extractor) mknodAt(fd int, rel, base string, mode uint32, dev int) error {
	return unix.Mknodat(fd, base, mode, dev)
}

// atPath returns a path naming base in the directory open as fd, for the
// calls that have no *at form (lsetxattr): /proc/self/fd/N/base resolves
// through the fd, never through a symlink swapped in above it.
func (x *extractor) atPath(fd int, rel, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + base
}

// syncFS makes everything written on the file system holding fd durable.
func syncFS(fd int) error { return unix.Syncfs(fd) }

const syncFSOp = "syncfs"
