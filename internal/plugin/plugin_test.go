package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
)

// fake is an api.Service that records the options it was called with and returns
// what the test set.
type fake struct {
	calls []string
	opts  any
	res   any
	err   error
}

func (f *fake) call(name string, o any) { f.calls = append(f.calls, name); f.opts = o }

func result[T any](f *fake) *T {
	if r, ok := f.res.(*T); ok {
		return r
	}
	return nil
}

func (f *fake) Backup(_ context.Context, o api.BackupOptions) (*api.BackupResult, error) {
	f.call("Backup", o)
	return result[api.BackupResult](f), f.err
}
func (f *fake) Backups(_ context.Context, o api.BackupsOptions) (*api.BackupsResult, error) {
	f.call("Backups", o)
	return result[api.BackupsResult](f), f.err
}
func (f *fake) Verify(_ context.Context, o api.VerifyOptions) (*api.VerifyResult, error) {
	f.call("Verify", o)
	return result[api.VerifyResult](f), f.err
}
func (f *fake) Restore(_ context.Context, o api.RestoreOptions) (*api.RestoreResult, error) {
	f.call("Restore", o)
	return result[api.RestoreResult](f), f.err
}
func (f *fake) Upgrade(_ context.Context, o api.UpgradeOptions) (*api.UpgradeResult, error) {
	f.call("Upgrade", o)
	return result[api.UpgradeResult](f), f.err
}
func (f *fake) Rollback(_ context.Context, o api.RollbackOptions) (*api.RollbackResult, error) {
	f.call("Rollback", o)
	return result[api.RollbackResult](f), f.err
}
func (f *fake) Status(_ context.Context, o api.StatusOptions) (*api.StatusResult, error) {
	f.call("Status", o)
	return result[api.StatusResult](f), f.err
}
func (f *fake) Prune(_ context.Context, o api.PruneOptions) (*api.PruneResult, error) {
	f.call("Prune", o)
	return result[api.PruneResult](f), f.err
}
func (f *fake) Schedule(_ context.Context, o api.ScheduleOptions) (*api.ScheduleResult, error) {
	f.call("Schedule", o)
	return result[api.ScheduleResult](f), f.err
}
func (f *fake) MergeConfig(_ context.Context, o api.MergeConfigOptions) (*api.MergeConfigResult, error) {
	f.call("MergeConfig", o)
	return result[api.MergeConfigResult](f), f.err
}

func (f *fake) Projects(_ context.Context, o api.ProjectsOptions) (*api.ProjectsResult, error) {
	f.call("Projects", o)
	return result[api.ProjectsResult](f), f.err
}
func (f *fake) KnownProjects() []string { f.call("KnownProjects", nil); return nil }
func (f *fake) Helpers() []api.Helper   { f.call("Helpers", nil); return nil }

type run struct {
	code        int
	out, errOut string
	cfg         *api.Config // nil when the service was never built
}

// execute runs the command line against f as Main does (exit code and error report).
func execute(t *testing.T, f *fake, args ...string) run {
	t.Helper()
	var r run
	root, st := newRoot(func(cfg api.Config) api.Service { r.cfg = &cfg; return f }, false)
	st.args = args
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	r.code = st.finish(err, &out, &errOut)
	r.out, r.errOut = out.String(), errOut.String()
	return r
}

// doc parses stdout as exactly one JSON object.
func doc(t *testing.T, r run) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.out))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r.out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", r.out)
	}
	if m["schema_version"] != float64(SchemaVersion) {
		t.Errorf("schema_version = %v", m["schema_version"])
	}
	return m
}

func TestFlagsBecomeOptions(t *testing.T) {
	scope := api.Scope{Files: []string{"a.yaml", "b.yaml"}, Name: "proj", WorkingDir: "/w", EnvFiles: []string{"e"}, Profiles: []string{"x"}, BackupDir: "/b"}
	global := []string{"-f", "a.yaml", "-f", "b.yaml", "-p", "proj", "--project-directory", "/w", "--env-file", "e", "--profile", "x", "--backup-dir", "/b"}
	hopts := api.HealthOptions{Timeout: time.Minute, StablePeriod: 2 * time.Second, MigrationTimeout: 90 * time.Minute}
	for _, c := range []struct {
		args []string
		want any
	}{
		{[]string{"backup", "--exclude", "*.log", "--no-stop", "--compression", "gz", "--level", "3", "--include-host-path", "/h"},
			api.BackupOptions{Scope: scope, Excludes: []string{"*.log"}, NoStop: true, Compression: api.Gzip, Level: 3, IncludeHostPaths: []string{"/h"}}},
		{[]string{"backups"}, api.BackupsOptions{Scope: scope}},
		{[]string{"backups", "--all-engines"}, api.BackupsOptions{Scope: scope, AllEngines: true}},
		{[]string{"verify", "20260101-000000"}, api.VerifyOptions{Scope: scope, ID: "20260101-000000"}},
		{[]string{"restore", "ID", "--source", "s1", "--no-safety-backup", "--to-recorded-paths", "--timeout", "1m", "--stable-period", "2s", "--migration-timeout", "90m"},
			api.RestoreOptions{Scope: scope, ID: "ID", Sources: []string{"s1"}, NoSafetyBackup: true, ToRecordedPaths: true, Health: hopts}},
		{[]string{"upgrade", "--image", "bot=r:2", "--force", "--dry-run", "--accept-breaking", "--no-auto-rollback", "--reset-data", "d",
			"--keep-unknown", "--show-secrets", "--compression", "gzip", "--level", "5", "--include-host-path", "/h", "--timeout", "1m", "--stable-period", "2s", "--migration-timeout", "90m"},
			api.UpgradeOptions{Scope: scope, Images: map[string]string{"bot": "r:2"}, Force: true, DryRun: true, AcceptBreaking: true, NoAutoRollback: true,
				ResetData: []string{"d"}, KeepUnknown: true, ShowSecrets: true, Compression: api.Gzip, Level: 5, IncludeHostPaths: []string{"/h"}, Health: hopts}},
		{[]string{"rollback", "ID", "--no-safety-backup", "--timeout", "1m", "--stable-period", "2s", "--migration-timeout", "90m"},
			api.RollbackOptions{Scope: scope, ID: "ID", NoSafetyBackup: true, Health: hopts}},
		{[]string{"status"}, api.StatusOptions{Scope: scope}},
		{[]string{"prune", "--keep", "2", "--older-than", "1h", "--include-unreadable", "--include-unrecorded", "--dry-run"},
			api.PruneOptions{Scope: scope, Keep: 2, OlderThan: time.Hour, IncludeUnreadable: true, IncludeUnrecorded: true, DryRun: true}},
	} {
		f := &fake{err: errors.New("fake")} // no result to print
		r := execute(t, f, append(append([]string{}, global...), c.args...)...)
		if len(f.calls) != 1 {
			t.Errorf("%v: calls %v (exit %d, %s)", c.args, f.calls, r.code, r.errOut)
			continue
		}
		if !reflect.DeepEqual(f.opts, c.want) {
			t.Errorf("%v:\n got %+v\nwant %+v", c.args, f.opts, c.want)
		}
	}
	// --stable-period 0s means zero (running once is enough), not the 15s default; without
	// the flag the default is asked for
	for _, c := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"rollback", "--stable-period", "0s"}, -1},
		{[]string{"restore", "ID", "--stable-period", "0"}, -1},
		{[]string{"upgrade", "--stable-period", "0s"}, -1},
		{[]string{"rollback"}, api.DefaultStablePeriod},
	} {
		f := &fake{err: errors.New("fake")}
		execute(t, f, c.args...)
		var got time.Duration
		switch o := f.opts.(type) {
		case api.RollbackOptions:
			got = o.Health.StablePeriod
		case api.RestoreOptions:
			got = o.Health.StablePeriod
		case api.UpgradeOptions:
			got = o.Health.StablePeriod
		default:
			t.Fatalf("%v: options %#v", c.args, f.opts)
		}
		if got != c.want {
			t.Errorf("%v: stable period %v, want %v", c.args, got, c.want)
		}
	}
	// the global flags after the command, and --progress reaching the service
	f := &fake{err: errors.New("fake")}
	r := execute(t, f, "status", "-p", "proj", "--progress", "json")
	if o, _ := f.opts.(api.StatusOptions); o.Scope.Name != "proj" || r.cfg == nil || r.cfg.Progress != "json" {
		t.Errorf("status -p proj --progress json: %+v %+v", f.opts, r.cfg)
	}
	// config merge: no --version-key is the format's default (nil), --version-key "" is none
	f = &fake{res: &api.MergeConfigResult{Merged: []byte("x=1\n")}}
	r = execute(t, f, "config", "merge", "--template", "t.toml", "--current", "c.toml", "--format", "toml", "--keep-unknown")
	want := api.MergeConfigOptions{Template: "t.toml", Current: "c.toml", Format: api.FormatTOML, KeepUnknown: true}
	if !reflect.DeepEqual(f.opts, want) || r.out != "x=1\n" {
		t.Errorf("config merge: %+v, stdout %q", f.opts, r.out)
	}
	f = &fake{res: &api.MergeConfigResult{}}
	execute(t, f, "config", "merge", "--template", "t", "--current", "c", "--version-key", "")
	if o := f.opts.(api.MergeConfigOptions); o.VersionKeys == nil || len(o.VersionKeys) != 0 {
		t.Errorf("--version-key '': %#v", o.VersionKeys)
	}
}

func TestBadFlagValuesRefusedBeforeTheService(t *testing.T) {
	for _, args := range [][]string{
		{"backup", "--compression", "lz4"},
		{"upgrade", "--compression", "xz"},
		{"--progress", "bogus", "status"},
		{"status", "--progress", "bogus"},
		{"status", "--format", "yaml"},
		{"backups", "--format", "xml"},
		{"restore", "--format", "table2"},
		{"prune", "--keep", "0"},
		{"upgrade", "--image", "no-equals"},
		{"verify", "a", "b"},
		{"config", "merge", "--template", "t"},
		{"config", "merge", "--template", "t", "--current", "c", "--format", "ini"},
		{"config", "merge", "--template", "t", "--current", "c", "--report", "xml"},
		{"version", "--format", "yaml"},
	} {
		built := false
		f := &fake{}
		root, st := newRoot(func(api.Config) api.Service { built = true; return f }, false)
		st.args = args
		var out, errOut bytes.Buffer
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&errOut)
		code := st.finish(root.Execute(), &out, &errOut)
		if code != ExitUsage || built || len(f.calls) > 0 {
			t.Errorf("%v: exit %d, service built %v, calls %v; %s", args, code, built, f.calls, errOut.String())
		}
	}
}

func TestErrorsAsJSON(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  error
		code int
	}{
		{[]string{"backup", "--format", "json"}, api.ErrLocked, ExitLocked},
		{[]string{"backups", "--format", "json"}, api.ErrEngine, ExitEngine},
		{[]string{"verify", "--format", "json"}, &api.VerifyError{Err: errors.New("sha256 mismatch")}, ExitVerify},
		{[]string{"restore", "--format=json"}, api.ErrNotFound, ExitNotFound},
		{[]string{"rollback", "--format", "json"}, api.ErrInterrupted, ExitRefused},
		{[]string{"restore", "--format", "json"}, &api.RestoreError{Cause: fmt.Errorf("backup X: %w: no identity was given; nothing was changed", api.ErrNoIdentity)}, ExitIdentity},
		{[]string{"verify", "--format", "json"}, &api.VerifyError{Err: fmt.Errorf("wrong key: %w", api.ErrNoIdentity)}, ExitIdentity},
		{[]string{"status", "--format", "json"}, context.Canceled, ExitCancelled},
		{[]string{"prune", "--format", "json"}, errors.New("boom"), ExitError},
		{[]string{"config", "merge", "--template", "t", "--current", "c", "--report", "json"}, errors.New("no such file"), ExitError},
		// flag errors, also when --format comes after the bad flag
		{[]string{"backup", "--compression", "lz4", "--format", "json"}, nil, ExitUsage},
		{[]string{"prune", "--format", "json", "--keep", "0"}, nil, ExitUsage},
	} {
		f := &fake{err: c.err}
		r := execute(t, f, c.args...)
		if r.code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, r.code, c.code)
		}
		m := doc(t, r)
		e, _ := m["error"].(map[string]any)
		if e == nil || e["code"] != float64(c.code) || e["message"] == "" {
			t.Errorf("%v: error member %v", c.args, m["error"])
		}
		if len(m) != 2 {
			t.Errorf("%v: members besides schema_version and error: %v", c.args, m)
		}
		// text mode: the same code, the error on stderr, nothing on stdout
		text := []string{}
		for _, a := range c.args {
			text = append(text, strings.ReplaceAll(a, "json", "text"))
		}
		if strings.Contains(strings.Join(c.args, " "), "--report json") || strings.Contains(strings.Join(c.args, " "), "backups") || strings.Contains(strings.Join(c.args, " "), "status") {
			continue // table formats / --report: covered by the JSON half
		}
		tr := execute(t, &fake{err: c.err}, text...)
		if tr.code != c.code || tr.out != "" || !strings.Contains(tr.errOut, "docker maim: ") {
			t.Errorf("%v (text): exit %d, stdout %q, stderr %q", text, tr.code, tr.out, tr.errOut)
		}
	}
}

func TestResultAndErrorInOneDocument(t *testing.T) {
	// an upgrade that was rolled back: its result and the error, one document, exit 10
	res := &api.UpgradeResult{Outcome: api.OutcomeRolledBack, BackupID: "B"}
	f := &fake{res: res, err: &api.UpgradeError{Outcome: api.OutcomeRolledBack, Cause: errors.New("unhealthy")}}
	r := execute(t, f, "upgrade", "--format", "json")
	if r.code != ExitRolledBack {
		t.Errorf("exit %d", r.code)
	}
	m := doc(t, r)
	if m["outcome"] != "rolled-back" || m["backup_id"] != "B" {
		t.Errorf("result members: %v", m)
	}
	if e, _ := m["error"].(map[string]any); e == nil || e["code"] != float64(ExitRolledBack) || !strings.Contains(e["message"].(string), "unhealthy") {
		t.Errorf("error member: %v", m["error"])
	}
	// text mode prints the result and ends with the same code
	tr := execute(t, &fake{res: res, err: f.err}, "upgrade")
	if tr.code != ExitRolledBack || !strings.Contains(tr.out, "rolled back to backup B") {
		t.Errorf("text: exit %d, %q", tr.code, tr.out)
	}
}

func TestResultsAsJSONAndText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		cmd     string
		res     any
		members []string
		text    string
	}{
		{"backup", &api.BackupResult{ID: "B1", Project: "p", Reason: "manual", Time: now, Dir: "/b/p/B1", Sources: []api.BackupSource{{Name: "data", Kind: "volume", Bytes: 10}}, Bytes: 10, NotBackedUp: []api.HostPath{}},
			[]string{"id", "project", "reason", "time", "dir", "sources", "bytes", "size", "duration_ns", "not_backed_up"}, "backup B1 of project p: 1 sources"},
		{"backups", &api.BackupsResult{Project: "p", Backups: []api.BackupRow{{ID: "B1", Status: "complete", Sources: []string{"data"}, Dir: "/d"}}},
			[]string{"project", "backups"}, "B1"},
		{"verify", &api.VerifyResult{ID: "B1", Project: "p", Intact: true, Archives: 2}, []string{"id", "project", "intact", "archives", "bytes", "size"}, "backup B1 is intact: 2 files"},
		{"restore", &api.RestoreResult{Project: "p", BackupID: "B1", Restored: []string{"data"}},
			[]string{"project", "backup_id", "restored"}, "restored 1 sources of project p from backup B1"},
		{"rollback", &api.RollbackResult{Project: "p", RollbackReport: &api.RollbackReport{BackupID: "B1"}}, []string{"project", "backup_id"}, "project p rolled back to backup B1"},
		{"status", &api.StatusResult{Project: "p", Services: []api.ServiceStatus{}}, []string{"project", "services", "backups"}, "Project p"},
		{"prune", &api.PruneResult{Project: "p", Removed: []api.Pruned{}, Kept: []api.Kept{}}, []string{"project", "removed", "kept", "dry_run"}, "removed 0 backups"},
		{"upgrade", &api.UpgradeResult{Outcome: api.OutcomeNothingToDo, Plan: &api.Plan{Project: "p"}}, []string{"plan", "outcome"}, "nothing to upgrade"},
	} {
		r := execute(t, &fake{res: c.res}, c.cmd, "--format", "json")
		if r.code != 0 {
			t.Errorf("%s: exit %d %s", c.cmd, r.code, r.errOut)
			continue
		}
		m := doc(t, r)
		for _, k := range c.members {
			if _, ok := m[k]; !ok {
				t.Errorf("%s --format json: no %q in %v", c.cmd, k, m)
			}
		}
		if _, ok := m["error"]; ok {
			t.Errorf("%s: error member on success", c.cmd)
		}
		tr := execute(t, &fake{res: c.res}, c.cmd)
		if tr.code != 0 || !strings.Contains(tr.out, c.text) {
			t.Errorf("%s (text): exit %d, %q", c.cmd, tr.code, tr.out)
		}
	}
	r := execute(t, &fake{}, "version", "--format", "json")
	if m := doc(t, r); m["version"] != Version {
		t.Errorf("version: %v", m)
	}
	// config merge --report json: the report on stderr with a schema_version, the merged file on stdout
	f := &fake{res: &api.MergeConfigResult{Merged: []byte("a = 1\n"), Report: api.ConfigReport{File: "c.toml", Format: api.FormatTOML}}}
	r = execute(t, f, "config", "merge", "--template", "t.toml", "--current", "c.toml", "--report", "json")
	var rep map[string]any
	if err := json.Unmarshal([]byte(r.errOut), &rep); err != nil || rep["schema_version"] != float64(SchemaVersion) || rep["file"] != "c.toml" || r.out != "a = 1\n" {
		t.Errorf("config merge --report json: %v %v stdout %q", err, rep, r.out)
	}
}

// The dry-run's text lists the plan's phases as a numbered list, the skipped ones with why.
func TestDryRunTextListsPhases(t *testing.T) {
	var b bytes.Buffer
	printUpgrade(&b, &api.UpgradeResult{Outcome: api.OutcomeDryRun, Plan: &api.Plan{Project: "demo", Phases: []api.PlannedPhase{
		{Name: "stop", Description: "stop bot"},
		{Name: "reset", Skipped: true, Reason: "no --reset-data"},
		{Name: "recreate", Description: "recreate bot on the new images"},
	}}}, "")
	want := "\nPhases:\n   1. stop: stop bot\n   -  reset: skipped (no --reset-data)\n   2. recreate: recreate bot on the new images\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("dry-run text:\n%s\nwant it to contain\n%s", b.String(), want)
	}
}

// The backups table says which rows are not this engine's and user's, and whose.
func TestBackupsTableNamesOrigins(t *testing.T) {
	var b strings.Builder
	rows := []api.BackupRow{
		{ID: "B4", Status: "complete", Owner: api.OwnerThis, Origin: &api.Origin{EngineID: "A", UID: "1000", User: "alice"}},
		{ID: "B3", Status: "complete", Owner: api.OwnerOtherEngine, Origin: &api.Origin{EngineID: "ENGINE-B", Context: "prod", Host: "ssh://prod"}},
		{ID: "B2", Status: "complete", Owner: api.OwnerOtherUser, Origin: &api.Origin{EngineID: "A", UID: "0", User: "root"}},
		{ID: "B1", Status: "complete", Owner: api.OwnerUnrecorded},
	}
	if err := printBackups(&b, rows); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"B3: made on another engine ENGINE-B (context prod, ssh://prod)",
		"B2: made on this engine by user root",
		"B1: made by a docker-maim that did not record its engine",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "B4:") {
		t.Errorf("a note for this engine's own backup:\n%s", out)
	}
}

// hangupFake's Status is hung up on: it sends this process SIGHUP (a dropped SSH session)
// and returns once its ctx is cancelled.
type hangupFake struct{ *fake }

func (f hangupFake) Status(ctx context.Context, o api.StatusOptions) (*api.StatusResult, error) {
	f.call("Status", o)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		return nil, err
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestHangupCancels: SIGHUP cancels the command as Ctrl-C does (instead of killing the
// process with no cleanup) and exits 129, as a shell reports a command ended by it.
func TestHangupCancels(t *testing.T) {
	f := hangupFake{&fake{}}
	root, st := newRoot(func(api.Config) api.Service { return f }, false)
	var out, errOut bytes.Buffer
	root.SetArgs([]string{"status"})
	root.SetOut(&out)
	root.SetErr(&errOut)
	if code := st.finish(root.Execute(), &out, &errOut); code != ExitHangup {
		t.Errorf("exit %d after SIGHUP, want %d: %s", code, ExitHangup, errOut.String())
	}
}
