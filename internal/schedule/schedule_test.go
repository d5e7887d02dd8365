package schedule

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
)

// fakes puts fake crontab and systemctl programs on PATH: crontab keeps its table in a
// file (-l prints it, or "no crontab for" and exit 1; - stores stdin), systemctl appends
// its arguments to a log and answers show-environment with up's exit code.
func fakes(t *testing.T, up bool) (dir string) {
	dir = t.TempDir()
	code := "0"
	if !up {
		code = "1"
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("crontab", `tab="`+dir+`/tab"
echo "crontab $*" >>"`+dir+`/calls"
case "$1" in
-l) [ -f "$tab" ] || { echo "no crontab for test" >&2; exit 1; }; cat "$tab";;
-) cat >"$tab";;
*) exit 2;;
esac
`)
	write("systemctl", `echo "systemctl $*" >>"`+dir+`/calls"
case "$*" in *show-environment*) exit `+code+`;; esac
exit 0
`)
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return dir
}

func read(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func manager(t *testing.T) *Manager {
	return &Manager{Run: Exec, LookPath: exec.LookPath, UnitDir: filepath.Join(t.TempDir(), "systemd", "user")}
}

var hostile = []string{"my bot", `it's "quoted"`, "$(touch /tmp/pwned)", "../../etc", "back\\slash%n", "-dash.", "new\nline"}

func job(name string) Job {
	return Job{Project: name, Plugin: "/opt/docker maim/docker-maim", WorkingDir: "/srv/" + name, Files: []string{"/srv/" + name + "/compose.yaml"},
		Profiles: []string{"db"}, Keep: 3, Policy: api.KeepPolicy{Daily: 7}, Env: []string{"DOCKER_HOST=unix:///run/docker.sock", "DOCKER_CONTEXT=it's"}, Log: "/state/schedules/" + Escape(name) + ".log"}
}

// TestEscapeMatchesSystemdEscape: Escape is systemd-escape's rule, and Unescape undoes it.
func TestEscapeMatchesSystemdEscape(t *testing.T) {
	for _, n := range append(hostile, "mybot", "my-bot_1") {
		got := Escape(n)
		if back, err := Unescape(got); err != nil || back != strings.ReplaceAll(n, "/", "/") {
			t.Errorf("Unescape(Escape(%q)) = %q, %v", n, back, err)
		}
		if p, err := exec.LookPath("systemd-escape"); err == nil {
			out, err := exec.Command(p, "--", n).Output()
			if err != nil || strings.TrimSuffix(string(out), "\n") != got {
				t.Errorf("Escape(%q) = %q, systemd-escape says %q (%v)", n, got, out, err)
			}
		}
	}
}

// TestScriptQuotesHostileNames: the script, run by sh with a fake plugin, passes every
// argument through unchanged, backs up, then prunes; a lock held (exit 4) is said and
// nothing is pruned.
func TestScriptQuotesHostileNames(t *testing.T) {
	for _, n := range hostile {
		dir := t.TempDir()
		j := job(n)
		j.Plugin = filepath.Join(dir, "plug in")
		if err := os.WriteFile(j.Plugin, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done >>\""+dir+"/args\"; printf '\\001' >>\""+dir+"/args\"\n[ \"$FAIL\" = \"\" ] || exit $FAIL\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", "-c", j.Script()).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v: %s", n, err, out)
		}
		calls := strings.Split(strings.TrimSuffix(read(t, dir+"/args"), "\x01"), "\x01")
		want := "maim\x00-p\x00" + n + "\x00--project-directory\x00/srv/" + n + "\x00"
		if len(calls) != 2 || !strings.HasPrefix(calls[0], want) || !strings.HasSuffix(calls[0], "backup\x00") || !strings.HasSuffix(calls[1], "prune\x00--keep\x003\x00--keep-daily\x007\x00") {
			t.Errorf("%q: calls %q", n, calls)
		}
		os.Remove(dir + "/args")
		cmd := exec.Command("sh", "-c", j.Script())
		cmd.Env = append(os.Environ(), "FAIL=4")
		out, err = cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 || !strings.Contains(string(out), "holds the project lock (exit 4)") || strings.Count(read(t, dir+"/args"), "\x01") != 1 {
			t.Errorf("%q: lock held: %v %s", n, err, out)
		}
	}
}

// TestSystemdSetListRemove: units written under UnitDir for hostile names, verified by
// systemd-analyze when it is there, loaded with systemctl --user; set twice replaces;
// list finds them; remove removes them and says when there was none.
func TestSystemdSetListRemove(t *testing.T) {
	dir := fakes(t, true)
	m := manager(t)
	ctx := context.Background()
	when, _ := ParseAt("03:30")
	for _, n := range hostile {
		res, err := m.Set(ctx, job(n), when, api.ViaAuto, false)
		if err != nil || res.Schedules[0].Via != api.ViaSystemd || res.Replaced {
			t.Fatalf("%q: %+v %v", n, res, err)
		}
		svc, timer := m.unitPaths(n)
		if !strings.Contains(read(t, timer), "OnCalendar=*-*-* 03:30:00\n") || !strings.Contains(read(t, svc), "ExecStart=/bin/sh -c \"") {
			t.Errorf("%q: units %s %s", n, read(t, svc), read(t, timer))
		}
		verifyUnits(t, svc, timer)
		res, err = m.Set(ctx, job(n), When{OnCalendar: "Mon..Fri 04:00"}, api.ViaAuto, false)
		if err != nil || !res.Replaced || !strings.Contains(read(t, timer), "OnCalendar=Mon..Fri 04:00\n") {
			t.Errorf("%q: set again: %+v %v", n, res, err)
		}
	}
	if c := read(t, dir+"/calls"); !strings.Contains(c, "systemctl --user daemon-reload\nsystemctl --user enable docker-maim-my\\x20bot.timer\nsystemctl --user restart docker-maim-my\\x20bot.timer") {
		t.Errorf("systemctl calls:\n%s", c)
	}
	list, err := m.List(ctx, "")
	if err != nil || len(list.Schedules) != len(hostile) {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, n := range hostile {
		if l, _ := m.List(ctx, n); len(l.Schedules) != 1 || l.Schedules[0].Project != n || l.Schedules[0].When != "Mon..Fri 04:00" {
			t.Errorf("list %q: %+v", n, l)
		}
		if _, err := m.Remove(ctx, n, api.ViaAuto, false); err != nil {
			t.Errorf("remove %q: %v", n, err)
		}
		if _, err := m.Remove(ctx, n, api.ViaAuto, false); !errorsIs(err, api.ErrNoSchedule) {
			t.Errorf("remove %q twice: %v", n, err)
		}
	}
	if ents, _ := os.ReadDir(m.UnitDir); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
}

// verifyUnits runs systemd-analyze verify on the units, when it is installed: it must not
// complain about the files themselves (ExecStart's /bin/sh exists everywhere).
func verifyUnits(t *testing.T, svc, timer string) {
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return
	}
	out, err := exec.Command(p, "verify", "--man=no", svc, timer).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(svc), err, out)
	}
}

// TestCronKeepsOtherLines: without systemd, set writes a marked entry into the crontab,
// every other line byte-identical (a CRLF line, a last line without a newline); set again
// replaces it; remove takes it out; a name or path with a newline is refused.
func TestCronKeepsOtherLines(t *testing.T) {
	dir := fakes(t, false)
	m := manager(t)
	ctx := context.Background()
	other := "MAILTO=me@example.com\r\n# docker-maim other\n0 1 * * * /usr/bin/true 100% done\n# docker-maim mybotx\n5 5 * * * echo unrelated"
	if err := os.WriteFile(dir+"/tab", []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	when, _ := ParseAt("03:30")
	for _, n := range hostile[:len(hostile)-1] {
		j := job(n)
		j.Log = filepath.Join(t.TempDir(), "logs", "x.log")
		res, err := m.Set(ctx, j, when, api.ViaAuto, false)
		if err != nil || res.Schedules[0].Via != api.ViaCron {
			t.Fatalf("%q: %+v %v", n, res, err)
		}
		if _, err := os.Stat(filepath.Dir(j.Log)); err != nil {
			t.Errorf("log dir not made: %v", err)
		}
		if res, err = m.Set(ctx, j, ParseCronMust(t, "0 */6 * * *"), api.ViaCron, false); err != nil || !res.Replaced {
			t.Fatalf("%q again: %+v %v", n, res, err)
		}
		tab := read(t, dir+"/tab")
		if !strings.HasPrefix(tab, other+"\n") || strings.Count(tab, Marker(n)+"\n") != 1 || !strings.Contains(tab, "\n0 */6 * * * ( export") || strings.Contains(tab, "+%Y") {
			t.Errorf("%q: crontab:\n%s", n, tab)
		}
		list, _ := m.List(ctx, n)
		if len(list.Schedules) != 1 || list.Schedules[0].Log != j.Log || list.Schedules[0].Command != j.Script() {
			t.Errorf("%q: list %+v", n, list)
		}
	}
	for _, n := range hostile[:len(hostile)-1] {
		if _, err := m.Remove(ctx, n, api.ViaCron, false); err != nil {
			t.Fatal(err)
		}
	}
	if tab := read(t, dir+"/tab"); tab != other+"\n" {
		t.Errorf("after remove: %q", tab)
	}
	if _, err := m.Set(ctx, job("new\nline"), when, api.ViaCron, false); err == nil {
		t.Error("a newline went into the crontab")
	}
	if _, err := m.Remove(ctx, "absent", api.ViaAuto, false); !errorsIs(err, api.ErrNoSchedule) {
		t.Errorf("remove absent: %v", err)
	}
}

// TestDryRunWritesNothing: --dry-run lists files, crontab and commands, runs nothing.
func TestDryRunWritesNothing(t *testing.T) {
	dir := fakes(t, true)
	m := manager(t)
	when, _ := ParseAt("03:30")
	res, err := m.Set(context.Background(), job("mybot"), when, api.ViaSystemd, true)
	if err != nil || len(res.Files) != 2 || len(res.Commands) != 3 || res.Commands[0].Ran {
		t.Fatalf("%+v %v", res, err)
	}
	res, err = m.Set(context.Background(), job("mybot"), when, api.ViaCron, true)
	if err != nil || res.Crontab == nil || !strings.Contains(*res.Crontab, Marker("mybot")) {
		t.Fatalf("%+v %v", res, err)
	}
	if ents, _ := os.ReadDir(m.UnitDir); len(ents) != 0 || read(t, dir+"/tab") != "" || strings.Contains(read(t, dir+"/calls"), "crontab -\n") {
		t.Errorf("dry run wrote: %v %q", ents, read(t, dir+"/calls"))
	}
}

// TestViaAndTimes: the time decides the way when it fits one only; a way refuses the
// other's time; bad times are refused.
func TestViaAndTimes(t *testing.T) {
	fakes(t, false)
	m := manager(t)
	ctx := context.Background()
	if v, err := m.Via(ctx, "auto", When{Cron: "1 2 * * *"}); v != api.ViaCron || err != nil {
		t.Errorf("cron time: %s %v", v, err)
	}
	if v, err := m.Via(ctx, "auto", When{OnCalendar: "daily"}); v != api.ViaSystemd || err != nil {
		t.Errorf("calendar time: %s %v", v, err)
	}
	if _, err := m.Via(ctx, "systemd", When{Cron: "1 2 * * *"}); err == nil {
		t.Error("systemd took a cron time")
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		if _, err := m.Set(ctx, job("mybot"), When{OnCalendar: "Mon..Fro 03:30"}, api.ViaSystemd, true); err == nil {
			t.Error("a calendar systemd cannot read was taken")
		}
		if _, err := m.Set(ctx, job("mybot"), When{OnCalendar: "Mon..Fri 03:30"}, api.ViaSystemd, true); err != nil {
			t.Errorf("Mon..Fri 03:30: %v", err)
		}
	}
	for _, bad := range []string{"3:30", "25:00", "03:30x"} {
		if _, err := ParseAt(bad); err == nil {
			t.Errorf("--at %q accepted", bad)
		}
	}
	for _, bad := range []string{"* * * *", "@reboot", "0 3 * * * rm", "0 3 * * $(x)"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("--cron %q accepted", bad)
		}
	}
}

func ParseCronMust(t *testing.T, s string) When {
	w, err := ParseCron(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func errorsIs(err, target error) bool { return err != nil && errors.Is(err, target) }
