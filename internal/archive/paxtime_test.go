//go:build linux || darwin

package archive

import (
	"testing"
	"time"
)

// TestPaxTime: sparse entries' PAX mtime records read back as the same instant, also
// before 1970.
func TestPaxTime(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1600000000, 123456789), "1600000000.123456789"},
		{time.Unix(5, 0), "5.000000000"},
		{time.Unix(-2, 500000000), "-1.500000000"},
		{time.Unix(-3, 0), "-3.000000000"},
	} {
		if got := paxTime(c.t); got != c.want {
			t.Errorf("paxTime(%v) = %q, want %q", c.t.UnixNano(), got, c.want)
		}
	}
}
