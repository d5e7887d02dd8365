//go:build unix

package app

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
)

// detachSupported: a detached run is a process in a session of its own.
func detachSupported() error { return nil }

// detachAttr puts a detached run in a new session: no controlling terminal, and the
// SIGHUP, SIGINT or SIGTERM sent to the caller's process group does not reach it.
func detachAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// processAlive tells whether pid runs (a zombie, which nobody reaped yet, does not).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc (macOS): kill says it exists
	}
	// pid (comm) S ...: the state follows the last ')'.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}
