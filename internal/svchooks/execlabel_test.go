package svchooks

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func str(s string) *string { return &s }

func offenProject(backups map[string]*string, dbGroup, cacheGroup string) *types.Project {
	svc := func(labels types.Labels, ext map[string]any) types.ServiceConfig {
		s := types.ServiceConfig{Extensions: ext}
		s.Labels = labels
		return s
	}
	svcs := map[string]types.ServiceConfig{
		"db":    svc(types.Labels{LabelArchivePre: "pg_dumpall > /dump/all.sql", LabelArchivePost: "rm /dump/all.sql", LabelExecLabel: dbGroup}, nil),
		"cache": svc(types.Labels{LabelArchivePre: "redis-cli save", LabelExecLabel: cacheGroup, LabelPreUpdate: "echo pre"}, nil),
		"plain": svc(types.Labels{LabelArchivePre: "sync"}, map[string]any{ExtensionKey: map[string]any{KeyPostBackup: "echo mine"}}),
	}
	i := 0
	for name, env := range backups {
		s := svc(nil, nil)
		s.Image = []string{"offen/docker-volume-backup:v2", "ghcr.io/offen/docker-volume-backup@sha256:0123", "docker.io/offen/docker-volume-backup"}[i%3]
		s.Environment = types.MappingWithEquals{"EXEC_LABEL": env, "BACKUP_CRON_EXPRESSION": str("@daily")}
		i++
		svcs[name] = s
	}
	return project(svcs)
}

func commandsOf(h *Hooks) []string {
	var out []string
	for _, c := range h.Commands {
		out = append(out, c.Service+" "+c.From)
	}
	return out
}

// offen's EXEC_LABEL on the project's backup service: only the offen commands of the
// services whose exec-label matches run; watchtower's and x-maim's are not offen's and run;
// the others are listed as not run, with why.
func TestExecLabelScopesOffenCommands(t *testing.T) {
	h, err := FromProject(offenProject(map[string]*string{"backup": str("database")}, "database", "cache"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(commandsOf(h), "; ")
	want := "cache " + LabelPreUpdate + "; db " + LabelArchivePre + "; db " + LabelArchivePost + "; plain x-maim.post_backup"
	if got != want {
		t.Errorf("commands %s\nwant %s", got, want)
	}
	if len(h.Ignored) != 2 || !strings.Contains(h.Ignored[0], `cache: label "docker-volume-backup.archive-pre" is not run: its docker-volume-backup.exec-label "cache" is not the EXEC_LABEL of "database" (service backup)`) ||
		!strings.Contains(h.Ignored[1], `plain: label "docker-volume-backup.archive-pre" is not run: its docker-volume-backup.exec-label ""`) {
		t.Errorf("ignored %q", h.Ignored)
	}
}

// Two offen services with their groups run both groups; one without EXEC_LABEL runs every
// group's (offen's default), and so does a project with no offen service.
func TestExecLabelUnscoped(t *testing.T) {
	h, err := FromProject(offenProject(map[string]*string{"b1": str("database"), "b2": str("cache")}, "database", "cache"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(commandsOf(h)); n != 5 || len(h.Ignored) != 1 || !strings.HasPrefix(h.Ignored[0], "plain:") || !strings.Contains(h.Ignored[0], `"cache" (service b2) or "database" (service b1)`) {
		t.Errorf("two groups: commands %q, ignored %q", commandsOf(h), h.Ignored)
	}
	for _, backups := range []map[string]*string{{"b1": str("database"), "b2": nil}, {"b1": str(" ")}, {}} {
		h, err := FromProject(offenProject(backups, "database", "cache"))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(commandsOf(h)); n != 6 || len(h.Ignored) != 0 {
			t.Errorf("%v: commands %q, ignored %q: want every command", backups, commandsOf(h), h.Ignored)
		}
	}
}

func TestIsOffenImage(t *testing.T) {
	for ref, want := range map[string]bool{
		"offen/docker-volume-backup": true, "offen/docker-volume-backup:v2.43": true, "ghcr.io/offen/docker-volume-backup:latest": true,
		"registry:5000/offen/docker-volume-backup@sha256:ab": true, "offen/docker-volume-backup-fork": false, "myoffen/docker-volume-backup": false, "postgres:16": false,
	} {
		if isOffenImage(ref) != want {
			t.Errorf("isOffenImage(%q) = %v", ref, !want)
		}
	}
}
