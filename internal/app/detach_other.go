//go:build !unix

package app

import (
	"errors"
	"syscall"

	maim "github.com/docker-maim/docker-maim/internal/api"
)

// detachSupported: not yet on Windows, where a detached run needs its own process
// creation flags and a readiness handle; --detach is refused with a usage error.
func detachSupported() error {
	return &maim.UsageError{Err: errors.New("--detach is not supported on this platform yet: run the command without it")}
}

func detachAttr() *syscall.SysProcAttr { return nil }

// processAlive: without detached runs here, an operation is never followed.
func processAlive(int) bool { return true }
