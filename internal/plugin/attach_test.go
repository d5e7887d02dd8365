package plugin

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Detach returns the test's DetachResult or, when the test set an AttachResult, one of an
// operation that ended before it held the project (the CLI then attaches to it).
func (f *fake) Detach(_ context.Context, o api.DetachOptions) (*api.DetachResult, error) {
	f.call("Detach", o)
	if _, ok := f.res.(*api.AttachResult); ok {
		return &api.DetachResult{ID: "op-ended", Project: "p"}, f.err
	}
	return result[api.DetachResult](f), f.err
}
func (f *fake) Attach(_ context.Context, o api.AttachOptions) (*api.AttachResult, error) {
	f.call("Attach", o)
	return result[api.AttachResult](f), f.err
}

// TestDetachFlag: --detach on each long operation asks the service to run the whole
// command line again (detached), prints the operation ID and never runs the verb here.
func TestDetachFlag(t *testing.T) {
	for _, args := range [][]string{{"upgrade", "--detach"}, {"restore", "-d", "20260102T030405Z"}, {"rollback", "-d"}} {
		f := &fake{res: &api.DetachResult{ID: "op1", Project: "p", PID: 42, Running: true}}
		r := execute(t, f, args...)
		if r.code != 0 || !reflect.DeepEqual(f.calls, []string{"Detach"}) {
			t.Fatalf("%v: exit %d, calls %v, %s", args, r.code, f.calls, r.errOut)
		}
		if got := f.opts.(api.DetachOptions).Args; !reflect.DeepEqual(got, os.Args) {
			t.Errorf("%v: detached args %v, want the process's own %v", args, got, os.Args)
		}
		if r.out != "op1\n" || !strings.Contains(r.errOut, "attach op1") || !strings.Contains(r.errOut, "process 42") {
			t.Errorf("%v: stdout %q, stderr %q", args, r.out, r.errOut)
		}
	}
	f := &fake{res: &api.DetachResult{ID: "op1", Project: "p", PID: 42, Running: true}}
	if m := doc(t, execute(t, f, "upgrade", "-d", "--format", "json")); m["id"] != "op1" || m["pid"] != float64(42) {
		t.Errorf("--format json: %v", m)
	}
}

// TestDetachedRunDoesTheWork: in the detached run itself (api.DetachedEnv set) --detach is
// ignored and the verb runs, its progress forced to JSON lines.
func TestDetachedRunDoesTheWork(t *testing.T) {
	t.Setenv(api.DetachedEnv, "op1")
	f := &fake{res: &api.UpgradeResult{Outcome: api.OutcomeUpgraded}}
	r := execute(t, f, "upgrade", "--detach", "--progress", "plain", "--format", "json")
	if !reflect.DeepEqual(f.calls, []string{"Upgrade"}) || r.cfg == nil || r.cfg.Progress != "json" {
		t.Fatalf("calls %v, cfg %+v", f.calls, r.cfg)
	}
}

func TestDetachRefusesStdin(t *testing.T) {
	f := &fake{}
	if r := execute(t, f, "upgrade", "-d", "--compose-file", "-"); r.code != ExitUsage || len(f.calls) != 0 {
		t.Errorf("exit %d, calls %v", r.code, f.calls)
	}
}

// TestAttachExitCode: attach prints the operation's output as it was and ends with its
// exit code without an error line of its own (the operation's was replayed); a detached
// run that ended before it held the project is reported the same way.
func TestAttachExitCode(t *testing.T) {
	for _, args := range [][]string{{"attach", "op1"}, {"status", "--follow", "--format", "json"}, {"upgrade", "-d"}} {
		f := &fake{res: &api.AttachResult{ID: "op1", ExitCode: ExitRolledBack, Output: []byte("{\"x\":1}\n")}}
		r := execute(t, f, args...)
		if r.code != ExitRolledBack || r.out != "{\"x\":1}\n" || r.errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.out, r.errOut)
		}
		if f.calls[len(f.calls)-1] != "Attach" {
			t.Errorf("%v: calls %v", args, f.calls)
		}
	}
	f := &fake{res: &api.AttachResult{ID: "op1"}}
	execute(t, f, "status", "--follow")
	if o := f.opts.(api.AttachOptions); o.ID != "" {
		t.Errorf("status --follow attached to %q, want the newest", o.ID)
	}
}
