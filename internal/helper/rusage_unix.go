//go:build unix

package helper

import (
	"runtime"
	"syscall"
)

var isDarwin = runtime.GOOS == "darwin"

// PeakRSSKiB is this process's peak resident set size in KiB (0 when unknown).
func PeakRSSKiB() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	if isDarwin {
		return int64(ru.Maxrss) / 1024 // bytes there
	}
	return int64(ru.Maxrss)
}
