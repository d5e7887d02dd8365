//go:build unix

package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

func lockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

func unlockFile(f *os.File) { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// openSharedLock opens (creating it 0600) the lock file name in dir, the project folder
// of a backup dir that root and a user may share. Neither dir nor the file may be a
// symlink (O_NOFOLLOW, the file opened relative to the directory opened). When root
// creates or finds it owned by someone other than the folder's owner, the file is given
// to the folder's owner (fchown on the descriptor, a plain file of one link only): a
// user whose folder root's cron wrote first can still take the lock; root can always.
func openSharedLock(dir, name string) (*os.File, error) {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir + string(os.PathSeparator) + name, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir+string(os.PathSeparator)+name)
	if os.Geteuid() == 0 {
		var d, st unix.Stat_t
		if unix.Fstat(dfd, &d) == nil && unix.Fstat(fd, &st) == nil &&
			st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink == 1 && (st.Uid != d.Uid || st.Gid != d.Gid) {
			_ = unix.Fchown(fd, int(d.Uid), int(d.Gid))
		}
	}
	return f, nil
}
