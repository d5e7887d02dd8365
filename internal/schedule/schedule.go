// Package schedule owns docker-maim's schedules: the systemd timer and service units, or
// the crontab line, that run `backup` then `prune` for one project at a time the user
// chose. It writes them as text (Job.Script, Units, CronEntry), finds and replaces the
// project's entry in a crontab keeping every other line byte-identical (EditCrontab),
// and applies them through the Runner seam (systemctl, crontab; manager.go). It knows
// nothing of the engine: internal/app resolves the project and hands it a Job.
package schedule

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Job is what a scheduled run does: the plugin run the way the docker CLI runs it
// (`PLUGIN maim GLOBAL-FLAGS backup`, then `... prune PRUNE-FLAGS`), in Env.
type Job struct {
	// Project is the compose project's name.
	Project string
	// Plugin is the absolute path of the docker-maim plugin binary.
	Plugin string
	// WorkingDir, Files, EnvFiles and Profiles select the project as at schedule time
	// (absolute paths).
	WorkingDir string
	Files      []string
	EnvFiles   []string
	Profiles   []string
	// BackupDir is --backup-dir ("": the default, or MAIM_BACKUP_DIR in Env).
	BackupDir string
	// Keep and Policy are prune's flags (zero: prune's default).
	Keep   int
	Policy api.KeepPolicy
	// Env are KEY=VALUE pairs the run exports first (DOCKER_HOST, DOCKER_CONTEXT, ...).
	Env []string
	// Log is the file a cron run appends to ("" under systemd: the journal).
	Log string
}

// globalArgs are the project-selecting flags both commands of a run take.
func (j Job) globalArgs() []string {
	a := []string{"-p", j.Project}
	if j.WorkingDir != "" {
		a = append(a, "--project-directory", j.WorkingDir)
	}
	for _, f := range j.Files {
		a = append(a, "-f", f)
	}
	for _, f := range j.EnvFiles {
		a = append(a, "--env-file", f)
	}
	for _, p := range j.Profiles {
		a = append(a, "--profile", p)
	}
	if j.BackupDir != "" {
		a = append(a, "--backup-dir", j.BackupDir)
	}
	return append(a, "--progress", "plain")
}

// PruneArgs are the prune flags a run passes, from Keep and Policy.
func (j Job) PruneArgs() []string {
	var a []string
	if j.Keep != 0 {
		a = append(a, "--keep", strconv.Itoa(j.Keep))
	}
	p := j.Policy
	for _, r := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}, {"yearly", p.Yearly}} {
		if r.n != 0 {
			a = append(a, "--keep-"+r.name, strconv.Itoa(r.n))
		}
	}
	if p.Within != 0 {
		a = append(a, "--keep-within", p.Within.String())
	}
	return a
}

// Script is the POSIX shell command a run executes: the environment exported, a line
// saying what starts, the backup, and prune only after a backup that succeeded. A backup
// that finds the project lock held (another docker-maim command runs) exits 4: the run
// says so and ends with 4, having pruned nothing. docker-maim's own lock is what keeps two
// runs apart, so no flock is needed.
func (j Job) Script() string {
	var b strings.Builder
	for _, kv := range j.Env {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString("export " + k + "=" + Quote(v) + "; ")
	}
	run := Quote(j.Plugin) + " maim " + QuoteArgs(j.globalArgs())
	name := Quote(j.Project)
	b.WriteString(`echo "docker-maim schedule: backup and prune of project "` + name + `" starting at $(date -u +%Y-%m-%dT%H:%M:%SZ)"; `)
	b.WriteString(run + " backup; rc=$?; ")
	b.WriteString(`if [ $rc -eq 4 ]; then echo "docker-maim schedule: another docker-maim command holds the project lock (exit 4): no backup made, nothing pruned; the next run tries again" >&2; exit 4; fi; `)
	b.WriteString(`if [ $rc -ne 0 ]; then echo "docker-maim schedule: backup failed (exit $rc): nothing pruned" >&2; exit $rc; fi; `)
	b.WriteString(strings.TrimSpace(run + " prune " + QuoteArgs(j.PruneArgs())))
	return b.String()
}

// Quote is s as one POSIX shell word: bare when it holds only safe characters, else in
// single quotes (a quote inside written '\”).
func Quote(s string) string {
	if s != "" && safeWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var safeWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// QuoteArgs is args as shell words separated by spaces.
func QuoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// When is the time a schedule runs, for both ways of keeping it.
type When struct {
	// OnCalendar is the systemd calendar expression ("" when only Cron was given).
	OnCalendar string
	// Cron is the five cron time fields ("" when only OnCalendar was given).
	Cron string
}

// ParseAt turns a daily "HH:MM" into both forms.
func ParseAt(at string) (When, error) {
	t, err := time.Parse("15:04", at)
	if err != nil || len(at) != 5 {
		return When{}, fmt.Errorf("--at wants a daily time HH:MM (e.g. 03:30), not %q", at)
	}
	return When{OnCalendar: fmt.Sprintf("*-*-* %02d:%02d:00", t.Hour(), t.Minute()), Cron: fmt.Sprintf("%d %d * * *", t.Minute(), t.Hour())}, nil
}

var cronField = regexp.MustCompile(`^[A-Za-z0-9*/,-]+$`)

// ParseCron checks a cron expression: five fields of digits, names, '*', '/', ',' and
// '-', or one @-macro (@daily, @weekly, ...; not @reboot, which is no time).
func ParseCron(expr string) (When, error) {
	f := strings.Fields(expr)
	switch {
	case len(f) == 1 && slicesContains([]string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}, f[0]):
		return When{Cron: f[0]}, nil
	case len(f) != 5:
		return When{}, fmt.Errorf("--cron wants five fields (minute hour day-of-month month day-of-week) or @daily/@weekly/..., not %q", expr)
	}
	for _, x := range f {
		if !cronField.MatchString(x) {
			return When{}, fmt.Errorf("--cron field %q holds a character cron does not take", x)
		}
	}
	return When{Cron: strings.Join(f, " ")}, nil
}

// ParseOnCalendar checks a systemd calendar expression for what a unit file cannot hold
// (systemd-analyze calendar checks the rest, when it is there).
func ParseOnCalendar(expr string) (When, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" || strings.ContainsAny(expr, "\n\r\\%") {
		return When{}, fmt.Errorf("--on-calendar %q is not a calendar expression a unit file can hold", expr)
	}
	return When{OnCalendar: expr}, nil
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
