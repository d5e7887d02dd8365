package plugin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
)

// TestScheduleFlags: set takes exactly one time and prune's flags, checked as prune checks
// them, and hands the service the project options; remove of a project without a schedule
// exits 6.
func TestScheduleFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"schedule", "set"},
		{"schedule", "set", "--at", "03:30", "--cron", "30 3 * * *"},
		{"schedule", "set", "--at", "03:30", "--keep", "0"},
		{"schedule", "set", "--at", "03:30", "--keep-daily", "0"},
		{"schedule", "set", "--at", "03:30", "--via", "launchd"},
		{"schedule", "list", "extra"},
	} {
		f := &fake{}
		if r := execute(t, f, bad...); r.code != ExitUsage || len(f.calls) != 0 {
			t.Errorf("%v: exit %d, calls %v", bad, r.code, f.calls)
		}
	}
	f := &fake{}
	r := execute(t, f, "-p", "mybot", "--profile", "db", "schedule", "set", "--on-calendar", "Mon..Fri 03:30", "--keep-daily", "7", "--keep-within", "30d", "--via", "systemd", "--dry-run")
	o, _ := f.opts.(api.ScheduleOptions)
	want := api.ScheduleOptions{Scope: api.Scope{Name: "mybot", Profiles: []string{"db"}}, Action: "set", Via: "systemd", OnCalendar: "Mon..Fri 03:30",
		Policy: api.KeepPolicy{Daily: 7, Within: 30 * 24 * time.Hour}, DryRun: true}
	if r.code != 0 || fmt.Sprint(o) != fmt.Sprint(want) {
		t.Errorf("exit %d, options %+v, want %+v", r.code, o, want)
	}
	f = &fake{err: fmt.Errorf("%w for project %q", api.ErrNoSchedule, "mybot")}
	if r := execute(t, f, "-p", "mybot", "schedule", "remove"); r.code != ExitNotFound || !strings.Contains(r.errOut, "no docker-maim schedule") {
		t.Errorf("remove without a schedule: exit %d %q", r.code, r.errOut)
	}
}

// TestSchedulePrint: the text of a dry run shows the files, the crontab and the commands
// left to run.
func TestSchedulePrint(t *testing.T) {
	tab := "# docker-maim mybot\n30 3 * * * true\n"
	f := &fake{res: &api.ScheduleResult{Action: "set", DryRun: true, Crontab: &tab,
		Schedules: []api.Schedule{{Project: "mybot", Via: "cron", When: "30 3 * * *", Log: "/l"}},
		Files:     []api.ScheduleFile{{Path: "/u/docker-maim-mybot.timer", Content: "[Timer]\n"}},
		Commands:  []api.ScheduleCommand{{Args: []string{"systemctl", "daemon-reload"}}}}}
	r := execute(t, f, "schedule", "set", "--at", "03:30", "--dry-run")
	for _, w := range []string{`Would have scheduled backup and prune of project "mybot" via cron at 30 3 * * * (log: /l)`, "/u/docker-maim-mybot.timer:\n[Timer]\n", "New crontab:\n" + tab, "Run: systemctl daemon-reload"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("output lacks %q:\n%s", w, r.out)
		}
	}
}
