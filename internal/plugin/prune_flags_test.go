package plugin

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
)

// TestPrunePolicyFlags: the restic-style --keep-* flags become the options' Policy; with
// one of them --keep counts only when given; a policy of zeros, a count below -1 and a bad
// --keep-within are usage errors before the service is built.
func TestPrunePolicyFlags(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		args []string
		want api.PruneOptions
	}{
		{[]string{"prune", "--keep-last", "2", "--keep-hourly", "24", "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "12", "--keep-yearly", "-1", "--keep-within", "30d"},
			api.PruneOptions{Policy: api.KeepPolicy{Last: 2, Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12, Yearly: -1, Within: 30 * day}}},
		{[]string{"prune", "--keep-daily", "3", "--keep", "2"}, api.PruneOptions{Keep: 2, Policy: api.KeepPolicy{Daily: 3}}},
		{[]string{"prune", "--keep-within", "1d12h"}, api.PruneOptions{Policy: api.KeepPolicy{Within: 36 * time.Hour}}},
		// Like every duration flag: fractional days, and a bare number is seconds.
		{[]string{"prune", "--keep-within", "1.5d"}, api.PruneOptions{Policy: api.KeepPolicy{Within: 36 * time.Hour}}},
		{[]string{"prune", "--keep-within", "30"}, api.PruneOptions{Policy: api.KeepPolicy{Within: 30 * time.Second}}},
		{[]string{"prune", "--keep-within", "90m", "--keep-daily", "0"}, api.PruneOptions{Policy: api.KeepPolicy{Within: 90 * time.Minute}}},
		{[]string{"prune"}, api.PruneOptions{Keep: 5}},
	} {
		f := &fake{err: errors.New("fake")}
		r := execute(t, f, c.args...)
		o, ok := f.opts.(api.PruneOptions)
		if !ok {
			t.Errorf("%v: no prune call (exit %d, %s)", c.args, r.code, r.errOut)
			continue
		}
		o.Scope = api.Scope{}
		if !reflect.DeepEqual(o, c.want) {
			t.Errorf("%v:\n got %+v\nwant %+v", c.args, o, c.want)
		}
	}
	for _, args := range [][]string{
		{"prune", "--keep-daily", "0"},
		{"prune", "--keep-daily", "0", "--keep-within", "0s"},
		{"prune", "--keep-weekly", "-2"},
		{"prune", "--keep-within", "-1h"},
		{"prune", "--keep-within", "d"},
		{"prune", "--keep-daily", "3", "--keep", "0"},
	} {
		built := false
		root, st := newRoot(func(api.Config) api.Service { built = true; return &fake{} }, false)
		st.args = args
		var out, errOut bytes.Buffer
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&errOut)
		if code := st.finish(root.Execute(), &out, &errOut); code != ExitUsage || built {
			t.Errorf("%v: exit %d, service built %v; %s", args, code, built, errOut.String())
		}
	}
}

// TestKeepWithinDays: --keep-within takes days as every duration flag does (durationVar).
func TestKeepWithinDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "1d12h": 36 * time.Hour, "36h": 36 * time.Hour, "0": 0, "0d": 0, " 7d ": 168 * time.Hour} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
