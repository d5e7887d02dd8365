package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeCrontab is a crontab program that keeps its table in a file of the test (the real
// one would edit this user's own crontab): -l prints it ("no crontab for" when there is
// none), - replaces it with stdin. It returns the directory to put first on PATH and the
// table's path.
func fakeCrontab(t *testing.T) (bin, tab string) {
	bin = t.TempDir()
	tab = filepath.Join(bin, "tab")
	script := fmt.Sprintf(`#!/bin/sh
case "$1" in
-l) [ -f %[1]q ] || { echo "no crontab for $USER" >&2; exit 1; }; cat %[1]q;;
-) cat >%[1]q;;
*) exit 2;;
esac
`, tab)
	must(t, os.WriteFile(filepath.Join(bin, "crontab"), []byte(script), 0o755))
	return bin, tab
}

// systemdWord undoes the quoting of one double-quoted word of a unit file's ExecStart=
// as systemd reads it: C escapes inside the quotes, "%%" a '%' (specifiers) and "$$" a
// '$' (no environment substitution).
func systemdWord(t *testing.T, s string) string {
	t.Helper()
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		t.Fatalf("not one quoted word: %q", s)
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
			b.WriteByte(map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '"': '"'}[s[i]])
		case c == '"':
			t.Fatalf("unescaped quote in %q", s)
		case (c == '%' || c == '$') && i+1 < len(s)-1 && s[i+1] == c:
			b.WriteByte(c)
			i++
		case c == '%' || c == '$':
			t.Fatalf("lone %c in %q: systemd would expand it", c, s)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// runJob runs a scheduled command line with sh in a bare environment (PATH and HOME only,
// as cron and systemd give): what it needs of the caller's (DOCKER_CONFIG, DOCKER_HOST,
// MAIM_BACKUP_DIR, MAIM_STATE_DIR) it must carry itself.
func runJob(t *testing.T, line string) (string, int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestScheduleRunsBackupThenPrune: the command a systemd unit's ExecStart and a cron line
// run, taken from what `schedule set` writes and run by sh in cron's bare environment,
// backs the project up and prunes it with the flags given (the job's backup is incremental:
// prune --keep 1 keeps its base, rule base, and removes the chain before a whole backup);
// cron's run logs into the file under the state dir; remove takes the line out, and a second remove exits 6.
func TestScheduleRunsBackupThenPrune(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	s := loadSchemas(t)
	p := newProject(t, "sched", optsCompose)
	compose(t, p, "up", "-d", "--wait")
	bin, tab := fakeCrontab(t)
	path := []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	first := p.backup()

	// systemd: the dry run's service unit, its ExecStart run as systemd would
	r := mustOK(t, p.maim("schedule", "set", "--on-calendar", "Mon..Fri 03:30", "--keep", "1", "--dry-run", "--format", "json"))
	m := wantDoc(t, s, "schedule.json", "schedule set --dry-run", r.Stdout)
	files, _ := m["files"].([]any)
	if len(files) != 2 || m["dry_run"] != true {
		t.Fatalf("dry run: %s", r.Stdout)
	}
	unit := files[0].(map[string]any)["content"].(string)
	var exec string
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart=/bin/sh -c "); ok {
			exec = systemdWord(t, v)
		}
	}
	if !strings.Contains(unit, "OnCalendar") && !strings.Contains(files[1].(map[string]any)["content"].(string), "OnCalendar=Mon..Fri 03:30\n") {
		t.Errorf("timer: %v", files[1])
	}
	out, code := runJob(t, exec)
	if code != 0 || !strings.Contains(out, "docker-maim schedule: backup and prune of project "+p.Name) || !strings.Contains(out, "backup ") {
		t.Fatalf("ExecStart run: exit %d\n%s", code, out)
	}
	// The job's backup is an increment on first: prune --keep 1 keeps first as its base.
	rows := p.backups()
	if len(rows) != 2 || rows[0].ID == first || rows[1].ID != first {
		t.Fatalf("after the systemd job (prune --keep 1): backups %+v, want the job's and its base %s", rows, first)
	}
	wantKeptBase(t, s, p, out, rows[0].ID, first)

	// cron: set for real into the fake crontab, set again (replaces), run the line as cron does
	mustOK(t, maimEnv(t, p.Dir, append(path, "COMPOSE_PROJECT_NAME="+p.Name), "schedule", "set", "--at", "03:30", "--via", "cron", "--keep", "1"))
	r = mustOK(t, maimEnv(t, p.Dir, append(path, "COMPOSE_PROJECT_NAME="+p.Name), "schedule", "set", "--cron", "*/5 * * * *", "--keep", "1", "--format", "json"))
	if m = wantDoc(t, s, "schedule.json", "schedule set", r.Stdout); m["replaced"] != true {
		t.Errorf("set twice did not say it replaced: %s", r.Stdout)
	}
	b, err := os.ReadFile(tab)
	must(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || lines[0] != "# docker-maim "+p.Name || !strings.HasPrefix(lines[1], "*/5 * * * * ") {
		t.Fatalf("crontab:\n%s", b)
	}
	line := strings.ReplaceAll(strings.TrimPrefix(lines[1], "*/5 * * * * "), `\%`, "%") // cron's own processing
	// A whole backup now: the cron job's builds on it, and its prune removes the older chain.
	full := p.backup("--full")
	if out, code := runJob(t, line); code != 0 || out != "" {
		t.Fatalf("cron line: exit %d, output not in its log: %s", code, out)
	}
	log, err := os.ReadFile(filepath.Join(stateDir(t), "schedules", p.Name+".log"))
	must(t, err)
	t.Logf("the cron run's log:\n%s", log)
	if !strings.Contains(string(log), "docker-maim schedule: backup and prune of project "+p.Name) ||
		!strings.Contains(string(log), "removed "+rows[0].ID+" ") || !strings.Contains(string(log), "removed "+first+" ") {
		t.Errorf("log, want %s and %s removed:\n%s", rows[0].ID, first, log)
	}
	if rows = p.backups(); len(rows) != 2 || rows[1].ID != full {
		t.Fatalf("after the cron job: backups %+v, want the job's and its base %s", rows, full)
	}
	wantKeptBase(t, s, p, string(log), rows[0].ID, full)

	// another docker-maim command holds the project: the run says so, exits 4, prunes nothing
	dir := projectStateDir(t, p.Name)
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	must(t, err)
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	_, err = f.WriteString("pid 4242: e2e test holder\n")
	must(t, err)
	out, code = runJob(t, line)
	f.Close()
	log, _ = os.ReadFile(filepath.Join(stateDir(t), "schedules", p.Name+".log"))
	t.Logf("the log of a run that found the lock held:\n%s", log)
	if code != 4 || out != "" || !strings.HasSuffix(string(log), "holds the project lock (exit 4): no backup made, nothing pruned; the next run tries again\n") || !strings.Contains(string(log), "e2e test holder") {
		t.Errorf("lock held: exit %d, log:\n%s", code, log)
	}
	if r := p.backups(); len(r) != 2 || r[0].ID != rows[0].ID || r[1].ID != rows[1].ID {
		t.Errorf("a run that found the lock held changed the backups: %+v", r)
	}

	r = mustOK(t, maimEnv(t, p.Dir, append(path, "COMPOSE_PROJECT_NAME="+p.Name), "schedule", "list", "--format", "json"))
	if m = wantDoc(t, s, "schedule.json", "schedule list", r.Stdout); len(m["schedules"].([]any)) != 1 {
		t.Errorf("list: %s", r.Stdout)
	}
	mustOK(t, maimEnv(t, p.Dir, append(path, "COMPOSE_PROJECT_NAME="+p.Name), "schedule", "remove"))
	if b, _ := os.ReadFile(tab); len(b) != 0 {
		t.Errorf("crontab after remove: %q", b)
	}
	r = maimEnv(t, p.Dir, append(path, "COMPOSE_PROJECT_NAME="+p.Name), "schedule", "remove", "--format", "json")
	wantErrorDoc(t, s, "schedule.json", r, 6)
}

// wantKeptBase: a prune --keep 1 run (its output out) kept base only because newest, the
// newest backup, builds on it: out says so, newest's manifest records base as its sources'
// base (or ref, an unchanged source's), and a dry run now keeps exactly newest (rule newest) and base (rule base, naming
// newest) and removes nothing.
func wantKeptBase(t *testing.T, s schemaSet, p *project, out, newest, base string) {
	t.Helper()
	if want := "kept " + base + ": backup " + newest + " builds on it (incremental): removing it would break the chain"; !strings.Contains(out, want) {
		t.Errorf("the prune did not say %q:\n%s", want, out)
	}
	raw, err := os.ReadFile(filepath.Join(p.backupPath(newest), "manifest.json"))
	must(t, err)
	var man struct {
		Sources []struct {
			Base *struct{ ID string } `json:"base"`
			Ref  string               `json:"ref"`
		} `json:"sources"`
	}
	must(t, json.Unmarshal(raw, &man))
	bases := 0
	for _, src := range man.Sources {
		on := src.Ref
		if src.Base != nil {
			on = src.Base.ID
		}
		if on == base {
			bases++
		} else if on != "" {
			t.Errorf("backup %s has a source on %s, want only %s", newest, on, base)
		}
	}
	if bases == 0 {
		t.Errorf("backup %s records no source on %s: %s", newest, base, raw)
	}
	r := mustOK(t, p.maim("prune", "--keep", "1", "--dry-run", "--format", "json"))
	wantDoc(t, s, "prune.json", "prune --dry-run", r.Stdout)
	var d struct {
		Removed []json.RawMessage                `json:"removed"`
		Kept    []struct{ ID, Rule, Why string } `json:"kept"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &d))
	if len(d.Removed) != 0 || len(d.Kept) != 2 || d.Kept[0].ID != newest || d.Kept[0].Rule != "newest" ||
		d.Kept[1].ID != base || d.Kept[1].Rule != "base" || !strings.Contains(d.Kept[1].Why, "backup "+newest+" builds on it") {
		t.Errorf("prune --keep 1 --dry-run, want %s newest and %s its base: %s", newest, base, r.Stdout)
	}
}
