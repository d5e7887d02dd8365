package volume

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// sameMountNamespace checks that the unix socket sock is served by a process in this
// process's mount namespace (SO_PEERCRED), so that paths the engine reports (volume
// mountpoints, bind sources) name the same files here. A socket forwarded from a VM
// (Docker Desktop), a rootless daemon or a socket mounted into a container fails this.
func sameMountNamespace(sock string) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) { cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("engine socket peer: %w", credErr)
	}
	if cred.Pid <= 0 {
		return fmt.Errorf("engine socket %s: peer process not visible", sock)
	}
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	peer, err := os.Readlink("/proc/" + strconv.Itoa(int(cred.Pid)) + "/ns/mnt")
	if err != nil {
		return fmt.Errorf("engine socket peer: %w", err)
	}
	if self != peer {
		return fmt.Errorf("engine socket %s is served from another mount namespace", sock)
	}
	return nil
}

// checkAccess checks that p can be read (write false) or modified (write true) by this process.
func checkAccess(p string, dir, write bool) error {
	mode := uint32(unix.R_OK)
	if dir {
		mode |= unix.X_OK
	}
	if write {
		mode |= unix.W_OK
	}
	if err := unix.Access(p, mode); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}
