package volume

import "syscall"

// statfsFree is the space an unprivileged writer may still use in the file system holding p.
func statfsFree(p string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(p, &st); err != nil {
		return -1, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
