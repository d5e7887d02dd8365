package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Runner runs a program with stdin and returns its stdout; a failure's error holds its
// stderr. Exec is the real one; tests put fake systemctl and crontab programs on PATH.
type Runner func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)

// Exec runs the program found on PATH.
func Exec(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Manager writes, lists and removes schedules: unit files in UnitDir, managed by
// systemctl (--user unless System), and crontab entries through `crontab -l` and
// `crontab -`.
type Manager struct {
	// Run runs systemctl and crontab.
	Run Runner
	// LookPath finds a program (exec.LookPath).
	LookPath func(string) (string, error)
	// UnitDir is where the unit files go ($XDG_CONFIG_HOME/systemd/user, or
	// /etc/systemd/system for System).
	UnitDir string
	// System: the system manager's units (root), not the user's.
	System bool
}

func (m *Manager) systemctl(args ...string) []string {
	if m.System {
		return append([]string{"systemctl"}, args...)
	}
	return append([]string{"systemctl", "--user"}, args...)
}

func (m *Manager) has(program string) bool {
	_, err := m.LookPath(program)
	return err == nil
}

// systemdUp tells whether the (user's, or for System the) systemd manager answers.
func (m *Manager) systemdUp(ctx context.Context) bool {
	if _, err := m.LookPath("systemctl"); err != nil {
		return false
	}
	c := m.systemctl("show-environment")
	_, err := m.Run(ctx, nil, c[0], c[1:]...)
	return err == nil
}

// Via picks how a schedule at when is kept: cron for a --cron time, systemd for an
// --on-calendar one, else (auto) systemd when its manager answers, cron when crontab is
// installed, and systemd (the units written, the commands to load them printed) when
// only systemctl is. It refuses a time the chosen way cannot take.
func (m *Manager) Via(ctx context.Context, via string, when When) (string, error) {
	if via == "" || via == api.ViaAuto {
		switch {
		case when.OnCalendar == "":
			via = api.ViaCron
		case when.Cron == "":
			via = api.ViaSystemd
		case m.systemdUp(ctx):
			via = api.ViaSystemd
		case m.has("crontab") || !m.has("systemctl"):
			via = api.ViaCron
		default: // systemd installed but not answering (a container, no login session): write the units, say what to run
			via = api.ViaSystemd
		}
	}
	switch {
	case via == api.ViaSystemd && when.OnCalendar == "":
		return "", &api.UsageError{Err: errors.New("--cron is a cron time: give --at or --on-calendar for systemd")}
	case via == api.ViaCron && when.Cron == "":
		return "", &api.UsageError{Err: errors.New("--on-calendar is a systemd time: give --at or --cron for cron")}
	}
	return via, nil
}

func (m *Manager) unitPaths(project string) (service, timer string) {
	n := filepath.Join(m.UnitDir, UnitName(project))
	return n + ".service", n + ".timer"
}

// Set writes the project's schedule, replacing any it had (systemd or cron: one per
// project), and enables it; with dryRun it only says what it would write and run.
func (m *Manager) Set(ctx context.Context, job Job, when When, via string, dryRun bool) (*api.ScheduleResult, error) {
	res := &api.ScheduleResult{Action: "set", DryRun: dryRun}
	via, err := m.Via(ctx, via, when)
	if err != nil {
		return nil, err
	}
	if via == api.ViaSystemd && m.has("systemd-analyze") {
		// systemd would ignore a timer whose calendar it cannot parse: refuse it now
		if _, err := m.Run(ctx, nil, "systemd-analyze", "calendar", "--", when.OnCalendar); err != nil {
			return nil, &api.UsageError{Err: fmt.Errorf("systemd cannot read the calendar %q (systemd-analyze calendar): %w", when.OnCalendar, err)}
		}
	}
	other := api.ViaCron
	if via == api.ViaCron {
		other = api.ViaSystemd
	}
	if res.Replaced, err = m.remove(ctx, job.Project, other, dryRun, res); err != nil {
		return res, err
	}
	s := api.Schedule{Project: job.Project, Via: via, Command: job.Script()}
	if via == api.ViaSystemd {
		job.Log = ""
		s.Command, s.When, s.Log, s.Unit = job.Script(), when.OnCalendar, "journal", UnitName(job.Project)+".timer"
		err = m.setSystemd(ctx, job, when, dryRun, res)
	} else {
		s.When, s.Log = when.Cron, job.Log
		var found bool
		found, err = m.setCron(ctx, job, when, dryRun, res)
		res.Replaced = res.Replaced || found
	}
	res.Schedules = []api.Schedule{s}
	return res, err
}

func (m *Manager) setSystemd(ctx context.Context, job Job, when When, dryRun bool, res *api.ScheduleResult) error {
	svcPath, timerPath := m.unitPaths(job.Project)
	if _, err := os.Stat(timerPath); err == nil {
		res.Replaced = true
	}
	svc, timer := Units(job, when, m.System)
	res.Files = append(res.Files, api.ScheduleFile{Path: svcPath, Content: svc}, api.ScheduleFile{Path: timerPath, Content: timer})
	if !dryRun {
		if err := os.MkdirAll(m.UnitDir, 0o755); err != nil {
			return err
		}
		for _, f := range res.Files[len(res.Files)-2:] {
			if err := os.WriteFile(f.Path, []byte(f.Content), 0o644); err != nil {
				return err
			}
		}
	}
	t := UnitName(job.Project) + ".timer"
	if !m.System {
		res.Notes = append(res.Notes, "a user timer runs while you are logged in, unless lingering is on: loginctl enable-linger "+os.Getenv("USER"))
	}
	return m.systemctlAll(ctx, dryRun, res, []string{"daemon-reload"}, []string{"enable", t}, []string{"restart", t})
}

// systemctlAll runs the systemctl commands in order when the manager answers (and not
// dryRun); else it lists them for the user to run.
func (m *Manager) systemctlAll(ctx context.Context, dryRun bool, res *api.ScheduleResult, cmds ...[]string) error {
	up := !dryRun && m.systemdUp(ctx)
	if !dryRun && !up {
		res.Notes = append(res.Notes, "systemd's manager did not answer: run the commands listed to load the units")
	}
	for _, c := range cmds {
		args := m.systemctl(c...)
		sc := api.ScheduleCommand{Args: args}
		if up {
			if _, err := m.Run(ctx, nil, args[0], args[1:]...); err != nil {
				return err
			}
			sc.Ran = true
		}
		res.Commands = append(res.Commands, sc)
	}
	return nil
}

func (m *Manager) readCrontab(ctx context.Context, dryRun bool, res *api.ScheduleResult) (string, error) {
	if _, err := m.LookPath("crontab"); err != nil {
		if dryRun {
			res.Notes = append(res.Notes, "no crontab program here: the crontab shown is the entry alone")
			return "", nil
		}
		return "", fmt.Errorf("no crontab program (install cron, or use --via systemd): %w", err)
	}
	out, err := m.Run(ctx, nil, "crontab", "-l")
	if err != nil && strings.Contains(err.Error(), "no crontab for") {
		return "", nil
	}
	return string(out), err
}

func (m *Manager) writeCrontab(ctx context.Context, tab string, dryRun bool, res *api.ScheduleResult) error {
	res.Crontab = &tab
	c := api.ScheduleCommand{Args: []string{"crontab", "-"}}
	if !dryRun {
		if _, err := m.Run(ctx, []byte(tab), "crontab", "-"); err != nil {
			return err
		}
		c.Ran = true
	}
	res.Commands = append(res.Commands, c)
	return nil
}

func (m *Manager) setCron(ctx context.Context, job Job, when When, dryRun bool, res *api.ScheduleResult) (bool, error) {
	entry, err := CronEntry(job, when)
	if err != nil {
		return false, &api.UsageError{Err: err}
	}
	tab, err := m.readCrontab(ctx, dryRun, res)
	if err != nil {
		return false, err
	}
	tab, found := EditCrontab(tab, job.Project, entry)
	if !dryRun {
		if err := os.MkdirAll(filepath.Dir(job.Log), 0o700); err != nil {
			return found, err
		}
	}
	return found, m.writeCrontab(ctx, tab, dryRun, res)
}

// Remove removes the project's schedule kept via (auto: either way); a project with none
// is api.ErrNoSchedule.
func (m *Manager) Remove(ctx context.Context, project, via string, dryRun bool) (*api.ScheduleResult, error) {
	res := &api.ScheduleResult{Action: "remove", DryRun: dryRun, Schedules: []api.Schedule{}}
	found, err := m.remove(ctx, project, via, dryRun, res)
	if err != nil {
		return res, err
	}
	if !found {
		return res, fmt.Errorf("%w for project %q", api.ErrNoSchedule, project)
	}
	return res, nil
}

// remove removes the project's schedule kept via (auto: both), recording it in res.
func (m *Manager) remove(ctx context.Context, project, via string, dryRun bool, res *api.ScheduleResult) (bool, error) {
	found := false
	if via != api.ViaCron {
		list, _ := m.listSystemd(project)
		if len(list) > 0 {
			found = true
			res.Schedules = append(res.Schedules, list...)
			t := UnitName(project) + ".timer"
			up := !dryRun && m.systemdUp(ctx)
			c := m.systemctl("disable", "--now", t)
			if up {
				if _, err := m.Run(ctx, nil, c[0], c[1:]...); err != nil {
					return found, err
				}
			}
			res.Commands = append(res.Commands, api.ScheduleCommand{Args: c, Ran: up})
			svc, timer := m.unitPaths(project)
			for _, p := range []string{timer, svc} {
				res.Files = append(res.Files, api.ScheduleFile{Path: p, Removed: true})
				if !dryRun {
					if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
						return found, err
					}
				}
			}
			if err := m.systemctlAll(ctx, dryRun || !up, res, []string{"daemon-reload"}); err != nil {
				return found, err
			}
		}
	}
	if via != api.ViaSystemd {
		if _, err := m.LookPath("crontab"); err != nil {
			return found, nil // no cron here: nothing of ours in a crontab
		}
		tab, err := m.readCrontab(ctx, dryRun, res)
		if err != nil {
			return found, err
		}
		for _, s := range CronEntries(tab) {
			if s.Project == project {
				res.Schedules = append(res.Schedules, s)
			}
		}
		if out, ok := EditCrontab(tab, project, ""); ok {
			found = true
			return found, m.writeCrontab(ctx, out, dryRun, res)
		}
	}
	return found, nil
}

// List lists the schedules of project ("": every project), systemd's then cron's.
func (m *Manager) List(ctx context.Context, project string) (*api.ScheduleResult, error) {
	res := &api.ScheduleResult{Action: "list"}
	list, err := m.listSystemd(project)
	if err != nil {
		return nil, err
	}
	res.Schedules = append([]api.Schedule{}, list...)
	if _, err := m.LookPath("crontab"); err == nil {
		tab, err := m.readCrontab(ctx, false, res)
		if err != nil {
			return nil, err
		}
		for _, s := range CronEntries(tab) {
			if project == "" || s.Project == project {
				res.Schedules = append(res.Schedules, s)
			}
		}
	}
	return res, nil
}

// listSystemd reads the timers in UnitDir (the project's only, unless project is "").
func (m *Manager) listSystemd(project string) ([]api.Schedule, error) {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	pattern := r.Replace(m.UnitDir) + string(filepath.Separator)
	if project != "" {
		pattern += r.Replace(UnitName(project)) + ".timer"
	} else {
		pattern += UnitPrefix + "*.timer"
	}
	paths, _ := filepath.Glob(pattern)
	sort.Strings(paths)
	var out []api.Schedule
	for _, p := range paths {
		base := strings.TrimSuffix(filepath.Base(p), ".timer")
		name, err := Unescape(strings.TrimPrefix(base, UnitPrefix))
		if err != nil {
			continue
		}
		timer, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		svc, _ := os.ReadFile(strings.TrimSuffix(p, ".timer") + ".service")
		out = append(out, api.Schedule{Project: name, Via: api.ViaSystemd, Unit: base + ".timer", Log: "journal",
			When: setting(string(timer), "OnCalendar"), Command: setting(string(svc), "ExecStart")})
	}
	return out, nil
}

// setting is the value of a unit file's first KEY= line.
func setting(unit, key string) string {
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	return ""
}
