package volume

import (
	"slices"
	"testing"

	"github.com/docker-maim/docker-maim/internal/helper"
)

// TestHelperFailpointFirstWriterOnly: helper.FailpointEnv reaches the first helper of the
// process that writes a target, here the stage of a two-pass restore, and no later one:
// not the removal of a stage, not a backup, not pass two (diffrestore) nor a put-back
// (restore) of the same run.
func TestHelperFailpointFirstWriterOnly(t *testing.T) {
	t.Setenv(helper.FailpointEnv, helper.FailpointHoldRestore)
	helperFailpointUsed.Store(false)
	t.Cleanup(func() { helperFailpointUsed.Store(false) })
	want := helper.FailpointEnv + "=" + helper.FailpointHoldRestore
	for _, c := range []struct {
		args []string
		held bool
	}{
		{[]string{"backup", "/data"}, false},
		{[]string{"diffstage", "--drop", ".maim-stage-0123456789abcdef0123456789abcdef", "/data"}, false},
		{[]string{"diffstage", "--archive", "/backup/a.tar.zst", "/data"}, true},
		{[]string{"diffstage", "--archive", "/backup/a.tar.zst", "/data"}, false},
		{[]string{"diffrestore", "--staged-stdin", "--archive", "/backup/a.tar.zst", "/data"}, false},
		{[]string{"restore", "/data"}, false},
	} {
		cfg, _ := (&helperCall{h: helperRun{args: c.args, lifeline: true}}).containerConfig()
		if got := slices.Contains(cfg.Env, want); got != c.held {
			t.Errorf("%v: failpoint passed %v, want %v (env %v)", c.args, got, c.held, cfg.Env)
		}
	}
	// Without a stage the first restore is the one held.
	helperFailpointUsed.Store(false)
	if cfg, _ := (&helperCall{h: helperRun{args: []string{"restore", "/data"}}}).containerConfig(); !slices.Contains(cfg.Env, want) {
		t.Errorf("the first restore of a process is not held: env %v", cfg.Env)
	}
}
