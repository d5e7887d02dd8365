package helper

import "testing"

// TestHelperFailpointFirstWriterOnly: FailpointEnv reaches the stages of a two-pass
// restore (each: one with little to write is never held) and no helper after them: not the
// removal of a stage, not a backup, not pass two (diffrestore) nor a put-back (restore) of
// the same run. Without a stage it reaches the first restore only.
func TestHelperFailpointFirstWriterOnly(t *testing.T) {
	t.Setenv(FailpointEnv, FailpointHoldRestore)
	failpointState.Store(failpointFree)
	t.Cleanup(func() { failpointState.Store(failpointFree) })
	want := FailpointEnv + "=" + FailpointHoldRestore
	for _, c := range []struct {
		args []string
		held bool
	}{
		{[]string{"backup", "/data"}, false},
		{[]string{"diffstage", "--drop", ".maim-stage-0123456789abcdef0123456789abcdef", "/data"}, false},
		{[]string{"diffstage", "--archive", "/backup/a.tar.zst", "/config"}, true},
		{[]string{"diffstage", "--archive", "/backup/b.tar.zst", "/data"}, true},
		{[]string{"diffrestore", "--staged-stdin", "--archive", "/backup/a.tar.zst", "/data"}, false},
		{[]string{"restore", "/data"}, false},
		{[]string{"diffstage", "--archive", "/backup/c.tar.zst", "/data"}, false},
	} {
		env, got := FailpointFor(c.args)
		if got != c.held || (got && env != want) {
			t.Errorf("%v: failpoint passed %v (%q), want %v", c.args, got, env, c.held)
		}
	}
	// Without a stage the first restore is the one held, and nothing after it.
	failpointState.Store(failpointFree)
	for i, args := range [][]string{{"diffrestore", "/data"}, {"restore", "/data"}, {"diffstage", "/data"}} {
		if _, got := FailpointFor(args); got != (i == 0) {
			t.Errorf("without a stage, %v: failpoint passed %v, want %v", args, got, i == 0)
		}
	}
}
