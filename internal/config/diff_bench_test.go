//go:build unix

package config

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPlanDiffLarge: the redacted diff of a 50,000-line config (1.4 MB) with four
// changes far apart, as an upgrade plan makes it; "dense" changes every 50th line. The
// cpu-ms/op metric is the process's CPU time (user and system, all threads) an op: on a
// machine shared with other work it says more than ns/op, the wall time.
func BenchmarkPlanDiffLarge(b *testing.B) {
	cur, merged := largeChange()
	lines := providersConfig(5000)
	for i := 0; i < len(lines); i += 50 {
		lines[i+3] = fmt.Sprintf("base_url = \"https://moved%d.example\"", i)
	}
	dense := []byte(strings.Join(lines, "\n") + "\n")
	for _, c := range []struct {
		name      string
		cur, next []byte
	}{{"four-changes", cur, merged}, {"dense", cur, dense}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.cur)))
			cpu0 := cpuTime()
			for b.Loop() {
				if Diff("config/model_config.toml", c.cur, c.next, TOML, false) == "" {
					b.Fatal("no diff")
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the CPU time the process has used so far (getrusage: user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
