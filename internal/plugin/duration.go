package plugin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// durationValue is the one pflag.Value of every duration flag (--timeout, --stable-period,
// --migration-timeout, --older-than). It accepts what Go's time.ParseDuration accepts
// (90s, 1h30m), a leading count of days (30d, 1d12h, 1.5d: a day is 24h), and a bare
// number, which is seconds as compose's --timeout is (30, 2.5). A negative duration is refused:
// none of these flags has a meaning for it. A bad value fails while the flags are parsed,
// so it is a usage error (exit 125) before anything contacts the engine.
type durationValue struct{ d *time.Duration }

// durationVar adds a duration flag that parses with parseDuration.
func durationVar(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var(durationValue{p}, name, usage)
}

func (v durationValue) String() string { return v.d.String() }
func (v durationValue) Type() string   { return "duration" }
func (v durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// parseDuration parses a duration flag's value: a bare number of seconds, an optional
// count of days ("Nd") followed by a Go duration, or a Go duration.
func parseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("empty duration (want e.g. 30, 90s, 10m, 1h30m, 30d, 1d12h)")
	}
	if isDecimal(in) {
		secs, err := strconv.ParseFloat(in, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %w", s, err)
		}
		return checkDuration(s, secs*float64(time.Second))
	}
	var days float64
	rest := in
	if i := strings.IndexByte(in, 'd'); i >= 0 {
		n, err := strconv.ParseFloat(in[:i], 64)
		if err != nil || !isDecimal(in[:i]) || in[0] == '-' || in[0] == '+' {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 30, 90s, 10m, 1h30m, 30d, 1d12h)", s)
		}
		days, rest = n, in[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || days > 0 && (rest[0] == '-' || rest[0] == '+') {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 30, 90s, 10m, 1h30m, 30d, 1d12h)", s)
		}
	}
	return checkDuration(s, days*float64(24*time.Hour)+float64(d))
}

// checkDuration refuses negative and overflowing durations.
func checkDuration(s string, ns float64) (time.Duration, error) {
	switch {
	case ns < 0:
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	case ns >= float64(1<<63-1):
		return 0, fmt.Errorf("invalid duration %q: too long", s)
	}
	return time.Duration(ns), nil
}

// isDecimal tells whether s is a plain decimal number (digits, at most one dot, an
// optional sign): what strconv.ParseFloat also reads as inf, NaN or hex is not one.
func isDecimal(s string) bool {
	s = strings.TrimLeft(s, "+-")
	digits, dots := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}
