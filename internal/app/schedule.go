package app

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/schedule"
)

// carriedEnv are the variables a scheduled run gets as they were when it was set: where
// the engine is (DOCKER_HOST, DOCKER_CONTEXT and the config that holds the contexts) and
// where docker-maim keeps its backups and state (the same locks and journals as the
// user's own commands), and the remote the backups are copied to with what names its
// endpoint, region, profile and age recipients: never a secret (an S3 key pair is read
// by the run from the profile's ~/.aws/credentials, not written into a unit or crontab).
var carriedEnv = []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "MAIM_BACKUP_DIR", "MAIM_STATE_DIR", "XDG_STATE_HOME",
	"MAIM_REMOTE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "MAIM_AGE_RECIPIENTS"}

// scheduler is the schedule manager of this user: the systemd user manager's units in
// $XDG_CONFIG_HOME/systemd/user, or, for root, the system manager's in /etc/systemd/system
// (root's user manager is seldom running, and a system timer runs without a login).
func scheduler() (*schedule.Manager, error) {
	m := &schedule.Manager{Run: schedule.Exec, LookPath: exec.LookPath}
	if os.Geteuid() == 0 {
		m.System, m.UnitDir = true, "/etc/systemd/system"
		return m, nil
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(cfg) {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		cfg = filepath.Join(home, ".config")
	}
	m.UnitDir = filepath.Join(cfg, "systemd", "user")
	return m, nil
}

// Schedule implements api.Service.
func (s *service) Schedule(ctx context.Context, o maim.ScheduleOptions) (*maim.ScheduleResult, error) {
	m, err := scheduler()
	if err != nil {
		return nil, err
	}
	switch o.Action {
	case "list":
		return m.List(ctx, o.Scope.Name)
	case "remove":
		name := o.Scope.Name
		if name == "" {
			p, err := s.scheduledProject(ctx, o.Scope)
			if err != nil {
				return nil, err
			}
			name = p.Name
		}
		return m.Remove(ctx, name, o.Via, o.DryRun)
	case "set":
		when, err := scheduleWhen(o)
		if err != nil {
			return nil, err
		}
		job, err := s.scheduleJob(ctx, o, m.System)
		if err != nil {
			return nil, err
		}
		return m.Set(ctx, job, when, o.Via, o.DryRun)
	}
	return nil, &maim.UsageError{Err: errors.New("unknown schedule action " + o.Action)}
}

func scheduleWhen(o maim.ScheduleOptions) (schedule.When, error) {
	var w schedule.When
	var err error
	switch {
	case o.At != "":
		w, err = schedule.ParseAt(o.At)
	case o.OnCalendar != "":
		w, err = schedule.ParseOnCalendar(o.OnCalendar)
	case o.Cron != "":
		w, err = schedule.ParseCron(o.Cron)
	default:
		err = errors.New("give the time: --at HH:MM, --on-calendar EXPR or --cron EXPR")
	}
	if err != nil {
		return w, &maim.UsageError{Err: err}
	}
	return w, nil
}

// scheduledProject resolves the project as a verb would: its containers' labels when the
// engine answers and -p names it alone, else its compose files.
func (s *service) scheduledProject(ctx context.Context, sc maim.Scope) (*project.Project, error) {
	cs, err := s.compose()
	if err != nil {
		return nil, err
	}
	var lister project.ContainerLister = noContainers{}
	if eng, err := s.engine(ctx); err == nil {
		lister = eng
	}
	return project.Resolve(ctx, cs, lister, project.Options{Files: sc.Files, Name: sc.Name, WorkingDir: sc.WorkingDir, EnvFiles: sc.EnvFiles, Profiles: sc.Profiles})
}

// scheduleJob is what a run of the project's schedule does, with every path absolute.
func (s *service) scheduleJob(ctx context.Context, o maim.ScheduleOptions, system bool) (schedule.Job, error) {
	p, err := s.scheduledProject(ctx, o.Scope)
	if err != nil {
		return schedule.Job{}, err
	}
	plugin, err := pluginPath()
	if err != nil {
		return schedule.Job{}, err
	}
	j := schedule.Job{Project: p.Name, Plugin: plugin, WorkingDir: p.WorkingDir, Profiles: o.Scope.Profiles, Keep: o.Keep, Policy: o.Policy}
	for _, f := range p.ComposeFiles {
		j.Files = append(j.Files, abs(f))
	}
	for _, f := range p.EnvFiles {
		j.EnvFiles = append(j.EnvFiles, abs(f))
	}
	if o.Scope.BackupDir != "" {
		j.BackupDir = abs(o.Scope.BackupDir)
	}
	j.Env = scheduleEnv(s.contextName(), system)
	root, err := backup.StateRoot()
	if err != nil {
		return j, err
	}
	j.Log = filepath.Join(root, "schedules", logName(p.Name)+".log")
	return j, nil
}

// pluginPath is this plugin's absolute path as it was run: the docker CLI runs a plugin
// by the path it found in its plugin dirs, which stays right when that is a symlink to a
// versioned install that an upgrade replaces (os.Executable would name the old version's
// file); else os.Executable.
func pluginPath() (string, error) {
	if len(os.Args) > 0 && filepath.IsAbs(os.Args[0]) {
		return os.Args[0], nil
	}
	return os.Executable()
}

// contextName is the docker context this command runs on, "" for the default one.
func (s *service) contextName() string {
	if s.cli == nil {
		return ""
	}
	if c := s.cli.CurrentContext(); c != "default" {
		return c
	}
	return ""
}

// scheduleEnv is carriedEnv as set now, with the current docker context when only a flag
// named it, and HOME for a system unit (which has none).
func scheduleEnv(context string, system bool) []string {
	var env []string
	for _, k := range carriedEnv {
		if v, ok := os.LookupEnv(k); ok && v != "" {
			env = append(env, k+"="+v)
		} else if k == "DOCKER_CONTEXT" && context != "" && os.Getenv("DOCKER_HOST") == "" {
			env = append(env, k+"="+context)
		}
	}
	if h, err := os.UserHomeDir(); err == nil && system {
		env = append(env, "HOME="+h)
	}
	return env
}

// logName is the project's name as a file name: itself when compose-valid (lower-case
// letters, digits, '-' and '_', what compose leaves a project name), else systemd-escaped.
func logName(name string) string {
	if validName.MatchString(name) {
		return name
	}
	return schedule.Escape(name)
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
