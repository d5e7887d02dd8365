package plugin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
)

// The scripting surface of issue 21: -q, --format TEMPLATE, durations with days and bare
// seconds, every flag checked before the service is built, restore and rollback --dry-run.

func backupsFixture() *api.BackupsResult {
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &api.BackupsResult{Project: "p", Backups: []api.BackupRow{
		{ID: "20260102-030405", Project: "p", Time: t1, Reason: "upgrade", Size: 2048, Sources: []string{"data", "file:compose.yaml"}, Status: api.StatusComplete, Owner: "this"},
		{ID: "20260101-000000", Project: "p", Time: t1.Add(-27 * time.Hour), Reason: "manual", Size: 10, Sources: []string{"data"}, Status: api.StatusComplete, Owner: "this"},
	}}
}

func TestQuietListsOnlyIDs(t *testing.T) {
	for _, c := range []struct {
		args []string
		res  any
		want string
	}{
		{[]string{"backups", "-q"}, backupsFixture(), "20260102-030405\n20260101-000000\n"},
		{[]string{"backups", "--quiet"}, backupsFixture(), "20260102-030405\n20260101-000000\n"},
		{[]string{"projects", "-q"}, &api.ProjectsResult{Projects: []api.ProjectSummary{{Name: "a"}, {Name: "b"}}}, "a\nb\n"},
		{[]string{"status", "-q"}, &api.StatusResult{Project: "p", Services: []api.ServiceStatus{{Service: "bot", Container: "p-bot-1"}, {Service: "db", Container: "p-db-1"}}}, "p-bot-1\np-db-1\n"},
	} {
		r := execute(t, &fake{res: c.res}, c.args...)
		if r.code != 0 || r.out != c.want {
			t.Errorf("%v: exit %d, stdout %q, want %q; %s", c.args, r.code, r.out, c.want, r.errOut)
		}
		if r.errOut != "" {
			t.Errorf("%v: stderr %q", c.args, r.errOut)
		}
	}
	// -q wins over --format, with docker's warning
	r := execute(t, &fake{res: backupsFixture()}, "backups", "-q", "--format", "{{.Reason}}")
	if r.out != "20260102-030405\n20260101-000000\n" || !strings.Contains(r.errOut, "Ignoring custom format") {
		t.Errorf("-q with --format: stdout %q stderr %q", r.out, r.errOut)
	}
}

func TestFormatTemplates(t *testing.T) {
	for _, c := range []struct {
		args []string
		res  any
		want string
	}{
		{[]string{"backups", "--format", "{{.ID}} {{.Reason}}"}, backupsFixture(), "20260102-030405 upgrade\n20260101-000000 manual\n"},
		{[]string{"backups", "--format", "{{.ID}}\t{{.Size}}\t{{.Sources}}\t{{.CreatedAt}}"}, backupsFixture(),
			"20260102-030405\t2.048kB\tdata,file:compose.yaml\t2026-01-02T03:04:05Z\n20260101-000000\t10B\tdata\t2026-01-01T00:04:05Z\n"},
		// a table template gets docker's header line and column alignment
		{[]string{"backups", "--format", `table {{.ID}}\t{{.Reason}}`}, backupsFixture(),
			"ID                REASON\n20260102-030405   upgrade\n20260101-000000   manual\n"},
		{[]string{"projects", "--format", "{{.Name}}:{{.Running}}/{{.Containers}}:{{.Known}}"},
			&api.ProjectsResult{Projects: []api.ProjectSummary{{Name: "a", Running: 1, Containers: 2, Known: true}}}, "a:1/2:true\n"},
		{[]string{"status", "--format", "{{.Project}} {{.Service}} {{.State}}"},
			&api.StatusResult{Project: "p", Services: []api.ServiceStatus{{Service: "bot", Container: "p-bot-1", State: "running"}}}, "p bot running\n"},
		{[]string{"status", "--format", "{{json .Service}}"},
			&api.StatusResult{Project: "p", Services: []api.ServiceStatus{{Service: "bot"}}}, "\"bot\"\n"},
	} {
		r := execute(t, &fake{res: c.res}, c.args...)
		if r.code != 0 || r.out != c.want {
			t.Errorf("%v: exit %d\n got %q\nwant %q\n%s", c.args, r.code, r.out, c.want, r.errOut)
		}
	}
	// {{json .}} is the row with every template field
	r := execute(t, &fake{res: backupsFixture()}, "backups", "--format", "{{json .}}")
	for _, field := range []string{`"ID":"20260102-030405"`, `"Reason":"upgrade"`, `"Status":"complete"`, `"Owner":"this"`} {
		if !strings.Contains(strings.SplitN(r.out, "\n", 2)[0], field) {
			t.Errorf("{{json .}}: %s lacks %s", r.out, field)
		}
	}
	// the keywords stay what they were: json is the one document, table the listing
	if d := doc(t, execute(t, &fake{res: backupsFixture()}, "backups", "--format", "json")); d["project"] != "p" {
		t.Errorf("--format json: %v", d)
	}
	if r := execute(t, &fake{res: backupsFixture()}, "backups", "--format", "table"); !strings.HasPrefix(r.out, "ID  ") || !strings.Contains(r.out, "SOURCES") {
		t.Errorf("--format table: %q", r.out)
	}
}

func TestBadTemplatesAndValuesRefusedBeforeTheService(t *testing.T) {
	for _, args := range [][]string{
		{"backups", "--format", "{{.ID"},
		{"status", "--format", "table {{.Nope"},
		{"backups", "--format", "{{.ID}} {{bogusfunc .ID}}"},
		{"prune", "--older-than", "30x"},
		{"prune", "--older-than", "-1h"},
		{"prune", "--older-than", "d"},
		{"rollback", "--timeout", "NaN"},
		{"restore", "--stable-period", "1d-2h"},
		{"backup", "--level", "99"},
		{"backup", "--compression", "gzip", "--level", "10"},
		{"backup", "--compression", "none", "--level", "1"},
		{"backup", "--level", "-1"},
		{"upgrade", "--level", "23"},
		{"backup", "--exclude", "logs/[a-"},
		{"verify", "--format", "{{.ID}}"}, // templates are for the listings only
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
	r := execute(t, &fake{}, "backup", "--level", "99")
	if !strings.Contains(r.errOut, "--level 99: zstd levels are 1 to 22") {
		t.Errorf("backup --level 99: %q", r.errOut)
	}
}

func TestDurationsWithDaysAndSeconds(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"30", 30 * time.Second},
		{"2.5", 2500 * time.Millisecond},
		{"0", 0},
		{"90s", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"30d", 30 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"2d30m10s", 48*time.Hour + 30*time.Minute + 10*time.Second},
	} {
		f := &fake{err: errors.New("fake")}
		execute(t, f, "prune", "--older-than", c.in)
		if o, ok := f.opts.(api.PruneOptions); !ok || o.OlderThan != c.want {
			t.Errorf("--older-than %s: %#v, want %v", c.in, f.opts, c.want)
		}
		f = &fake{err: errors.New("fake")}
		execute(t, f, "upgrade", "--timeout", c.in, "--migration-timeout", c.in)
		if o, ok := f.opts.(api.UpgradeOptions); !ok || o.Health.Timeout != c.want || o.Health.MigrationTimeout != c.want {
			t.Errorf("--timeout %s: %#v, want %v", c.in, f.opts, c.want)
		}
	}
	// --stable-period: zero in any spelling still means zero (-1 to the api), days work too
	for in, want := range map[string]time.Duration{"0": -1, "0s": -1, "0d": -1, "1d": 24 * time.Hour, "20": 20 * time.Second} {
		f := &fake{err: errors.New("fake")}
		execute(t, f, "rollback", "--stable-period", in)
		if o, ok := f.opts.(api.RollbackOptions); !ok || o.Health.StablePeriod != want {
			t.Errorf("--stable-period %s: %#v, want %v", in, f.opts, want)
		}
	}
}

func TestDryRunsReachTheService(t *testing.T) {
	f := &fake{err: errors.New("fake")}
	execute(t, f, "restore", "--dry-run")
	if o, ok := f.opts.(api.RestoreOptions); !ok || !o.DryRun {
		t.Errorf("restore --dry-run: %#v", f.opts)
	}
	f = &fake{err: errors.New("fake")}
	execute(t, f, "rollback", "ID", "--dry-run")
	if o, ok := f.opts.(api.RollbackOptions); !ok || !o.DryRun || o.ID != "ID" {
		t.Errorf("rollback --dry-run: %#v", f.opts)
	}
}

func TestRestoreAndRollbackPlansAsText(t *testing.T) {
	plan := &api.RestorePlan{
		Stop:         []string{"bot", "db"},
		Write:        []api.PlannedWrite{{Source: "data", Kind: "volume", Target: "p_data"}, {Source: "file:compose.yaml", Kind: "project-file", Target: "/w/compose.yaml"}},
		SafetyBackup: true,
		Images:       []api.ImageChange{{Service: "bot", OldRef: "bot:1", OldID: "sha256:0123456789abcdef"}},
		Phases:       []api.PlannedPhase{{Name: "stop", Description: "stop what runs"}, {Name: "safety-backup", Skipped: true, Reason: "no safety backup"}},
	}
	r := execute(t, &fake{res: &api.RestoreResult{Project: "p", BackupID: "B1", Chosen: "the newest backup (manual)", Skipped: []string{"/etc/x: a host path, never restored"}, Warnings: []string{"would pull it by digest d"}, DryRun: true, Plan: plan}}, "restore", "--dry-run")
	for _, want := range []string{"Plan for project p: restore from backup B1", "chosen: the newest backup (manual)", "  bot\n  db\n",
		"Safety backup: what is overwritten is backed up first (reason pre-restore)", "data               volume        -> p_data",
		"not restored: /etc/x", "warning: would pull it by digest d", "1. stop: stop what runs", "-  safety-backup: skipped (no safety backup)", "dry run: nothing was changed"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("restore --dry-run text lacks %q:\n%s", want, r.out)
		}
	}
	r = execute(t, &fake{res: &api.RollbackResult{Project: "p", RollbackReport: &api.RollbackReport{BackupID: "B0"}, DryRun: true, Plan: plan}}, "rollback", "--dry-run")
	for _, want := range []string{"rollback from backup B0", "reason pre-rollback", "bot: bot:1 (0123456789ab)", "dry run: nothing was changed"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("rollback --dry-run text lacks %q:\n%s", want, r.out)
		}
	}
	d := doc(t, execute(t, &fake{res: &api.RestoreResult{Project: "p", BackupID: "B1", Restored: []string{}, DryRun: true, Plan: plan}}, "restore", "--dry-run", "--format", "json"))
	if d["dry_run"] != true || d["plan"].(map[string]any)["safety_backup"] != true {
		t.Errorf("restore --dry-run --format json: %v", d)
	}
}
