package plugin

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func (f *fake) Describe(_ context.Context, o api.DescribeOptions) (*api.DescribeResult, error) {
	f.call("Describe", o)
	return result[api.DescribeResult](f), f.err
}

// complete runs cobra's __complete request on a fresh command tree over f and returns the
// candidates and the directive of the `:N` line.
func complete(t *testing.T, f *fake, args ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	root, st := newRoot(func(api.Config) api.Service { return f }, false)
	st.args = args
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{cobra.ShellCompRequestCmd}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.Execute(); err != nil {
		t.Fatalf("__complete %q: %v\n%s", args, err, errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	n, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("__complete %q: no directive line:\n%s", args, out.String())
	}
	return lines[:len(lines)-1], cobra.ShellCompDirective(n)
}

// wantComplete checks the candidates and directive of a completion request.
func wantComplete(t *testing.T, f *fake, want []string, dir cobra.ShellCompDirective, args ...string) {
	t.Helper()
	got, gotDir := complete(t, f, args...)
	if len(got) == 0 {
		got = nil
	}
	if !reflect.DeepEqual(got, want) || gotDir != dir {
		t.Errorf("__complete %q = %q :%d, want %q :%d", args, got, gotDir, want, dir)
	}
}

const (
	noFile    = cobra.ShellCompDirectiveNoFileComp
	keepOrder = cobra.ShellCompDirectiveKeepOrder
)

// project is what the fake's Describe returns: three backups (newest first), two services,
// sources and a profile.
func describedProject() *api.DescribeResult {
	at := func(h int) time.Time { return time.Date(2026, 12, 7, h, 0, 0, 0, time.Local) }
	return &api.DescribeResult{
		Project:  "proj",
		Services: []string{"bot", "db"},
		Profiles: []string{"extra"},
		Sources:  []string{"data", "./conf"},
		Backups: []api.BackupRow{
			{ID: "20261207T110000Z", Time: at(11), Reason: "pre-restore", Status: api.StatusComplete, Sources: []string{"data", "file:compose.yaml"}},
			{ID: "20261207T100000Z", Time: at(10), Reason: "upgrade", Status: api.StatusComplete, Sources: []string{"data", "./conf"}},
			{ID: "20261207T090000Z", Status: api.StatusIncomplete},
		},
	}
}

func TestCompleteBackupIDs(t *testing.T) {
	want := []string{
		"20261207T110000Z\t2026-12-07 11:00:00 pre-restore",
		"20261207T100000Z\t2026-12-07 10:00:00 upgrade",
		"20261207T090000Z\tincomplete",
	}
	for _, verb := range []string{"verify", "restore", "rollback"} {
		f := &fake{res: describedProject()}
		wantComplete(t, f, want, noFile|keepOrder, verb, "")
		wantComplete(t, f, want[1:2], noFile|keepOrder, verb, "20261207T10")
		// one ID is all these verbs take.
		wantComplete(t, f, nil, noFile, verb, "20261207T100000Z", "")
	}
	// prune takes no ID argument (yet): nothing, and no file names.
	wantComplete(t, &fake{res: describedProject()}, nil, noFile, "prune", "")

	// the global flags select the project and store the IDs are read from, before or after
	// the verb; nothing but Describe is called (no verb, no lock).
	f := &fake{res: describedProject()}
	complete(t, f, "-p", "other", "restore", "--backup-dir", "/b", "-f", "x.yaml", "")
	if !reflect.DeepEqual(f.calls, []string{"Describe"}) {
		t.Fatalf("completion called %v, want only Describe", f.calls)
	}
	if sc := f.opts.(api.DescribeOptions).Scope; sc.Name != "other" || sc.BackupDir != "/b" || !reflect.DeepEqual(sc.Files, []string{"x.yaml"}) {
		t.Errorf("Describe's scope = %+v", sc)
	}
}

func TestCompleteFailsQuietly(t *testing.T) {
	// nothing could be read: no candidates, the error directive, no error of the command.
	f := &fake{err: errors.New("no compose file")}
	for _, args := range [][]string{{"restore", ""}, {"upgrade", "--image", ""}, {"restore", "--source", ""}, {"upgrade", "--reset-data", ""}, {"--profile", ""}} {
		wantComplete(t, f, nil, cobra.ShellCompDirectiveError, args...)
	}
	// -p NAME without compose files here: the backups of NAME are still offered.
	f = &fake{res: &api.DescribeResult{Project: "p", Backups: []api.BackupRow{{ID: "20261207T090000Z", Reason: "manual"}}}, err: errors.New("no compose file")}
	wantComplete(t, f, []string{"20261207T090000Z\tmanual"}, noFile|keepOrder, "-p", "p", "verify", "")
}

func TestCompleteChoiceFlags(t *testing.T) {
	// every choice flag of every command completes exactly its documented choices.
	root, _ := newRoot(func(api.Config) api.Service { return &fake{} }, false)
	n := 0
	visitCommands(root, func(cmd *cobra.Command) {
		cmd.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			ch, ok := fl.Value.(*choiceFlag)
			if !ok {
				return
			}
			n++
			path := strings.Fields(cmd.CommandPath())[1:]
			wantComplete(t, &fake{}, ch.choices, noFile, append(path, "--"+fl.Name, "")...)
		})
	})
	if n < 10 {
		t.Fatalf("only %d choice flags found", n)
	}
	wantComplete(t, &fake{}, []string{"auto", "tty", "plain", "json", "quiet"}, noFile, "restore", "--progress", "")
	wantComplete(t, &fake{}, []string{"table", "json"}, noFile, "backups", "--format", "")
	wantComplete(t, &fake{}, []string{"zstd", "gzip", "none"}, noFile, "upgrade", "--compression", "")
}

func TestCompleteLevels(t *testing.T) {
	got, dir := complete(t, &fake{}, "backup", "--level", "")
	if len(got) != 23 || got[0] != "0\tthe default: 1" || got[22] != "22\tsmallest, slowest" || dir != noFile|keepOrder {
		t.Errorf("zstd levels: %q :%d", got, dir)
	}
	got, _ = complete(t, &fake{}, "upgrade", "--compression", "gzip", "--level", "")
	if len(got) != 10 || got[9] != "9\tsmallest, slowest" {
		t.Errorf("gzip levels: %q", got)
	}
	wantComplete(t, &fake{}, nil, noFile, "backup", "--compression", "none", "--level", "")
}

func TestCompleteFiles(t *testing.T) {
	for _, args := range [][]string{{"-f", ""}, {"restore", "--file", ""}, {"upgrade", "--compose-file", ""}, {"upgrade", "--base", ""}} {
		wantComplete(t, &fake{}, []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt, args...)
	}
	for _, args := range [][]string{{"--env-file", ""}, {"backup", "--include-host-path", ""}, {"config", "merge", "--template", ""}, {"config", "merge", "--current", ""}, {"config", "merge", "-o", ""}} {
		wantComplete(t, &fake{}, nil, cobra.ShellCompDirectiveDefault, args...)
	}
	for _, args := range [][]string{{"--backup-dir", ""}, {"status", "--project-directory", ""}} {
		wantComplete(t, &fake{}, nil, cobra.ShellCompDirectiveFilterDirs, args...)
	}
	// arguments and flags of anything else never complete file names.
	for _, args := range [][]string{{"status", ""}, {"upgrade", "--timeout", ""}, {"backup", "--exclude", ""}, {""}} {
		_, dir := complete(t, &fake{}, args...)
		if dir&noFile == 0 {
			t.Errorf("__complete %q: directive %d completes file names", args, dir)
		}
	}
}

func TestCompleteServicesAndSources(t *testing.T) {
	f := &fake{res: describedProject()}
	wantComplete(t, f, []string{"bot=", "db="}, noFile|cobra.ShellCompDirectiveNoSpace, "upgrade", "--image", "")
	wantComplete(t, f, []string{"db="}, noFile|cobra.ShellCompDirectiveNoSpace, "upgrade", "--image", "d")
	wantComplete(t, f, nil, noFile, "upgrade", "--image", "bot=")
	wantComplete(t, f, []string{"bot", "db"}, noFile, "backup", "--dump", "")
	wantComplete(t, f, []string{"data", "./conf"}, noFile, "upgrade", "--reset-data", "")
	wantComplete(t, f, []string{"extra"}, noFile, "status", "--profile", "")
	// restore --source: the named backup's sources, else every backup's, each once.
	wantComplete(t, f, []string{"data", "file:compose.yaml"}, noFile, "restore", "20261207T110000Z", "--source", "")
	wantComplete(t, f, []string{"data", "file:compose.yaml", "./conf"}, noFile, "restore", "--source", "")
	wantComplete(t, f, []string{"file:compose.yaml"}, noFile, "restore", "--source", "fi")
}

func TestCompleteProjects(t *testing.T) {
	f := &fake{res: &api.ProjectsResult{Projects: []api.ProjectSummary{{Name: "zeta", WorkingDir: "/srv/zeta"}, {Name: "alpha"}}}}
	wantComplete(t, f, []string{"alpha", "zeta\t/srv/zeta"}, noFile, "-p", "")
	wantComplete(t, f, []string{"zeta\t/srv/zeta"}, noFile, "status", "--project-name", "z")
	// no engine: no candidates, and no error either.
	wantComplete(t, &fake{err: errors.New("engine unreachable")}, nil, noFile, "-p", "")
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range completionShells {
		r := execute(t, &fake{}, "completion", sh)
		if r.code != 0 || !strings.Contains(r.out, "docker-maim") || !strings.Contains(r.out, "__complete") {
			t.Errorf("completion %s: exit %d, script does not complete docker-maim through __complete:\n%.300s", sh, r.code, r.out)
		}
	}
	if r := execute(t, &fake{}, "completion", "tcsh"); r.code != ExitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", r.code, ExitUsage)
	}
}

func TestCompleteArgs(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"docker-maim", "maim", "__complete", "restore", ""}, []string{"docker-maim", "__complete", "maim", "restore", ""}},
		{[]string{"docker-maim", "maim", "__completeNoDesc", "-p", ""}, []string{"docker-maim", "__completeNoDesc", "maim", "-p", ""}},
		{[]string{"docker-maim", "__complete", "maim", "restore", ""}, []string{"docker-maim", "__complete", "maim", "restore", ""}},
		{[]string{"docker-maim", "maim", "restore", "__complete"}, []string{"docker-maim", "maim", "restore", "__complete"}},
	} {
		if got := completeArgs(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("completeArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
