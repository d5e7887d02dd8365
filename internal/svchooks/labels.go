// Package svchooks owns the commands docker-maim runs inside a project's running
// containers around a backup and an upgrade, and the other per-service lifecycle wishes
// that come with them: reading them from the compose project (the labels users already
// have for offen/docker-volume-backup, watchtower and stack-back, and docker-maim's own
// x-maim keys for the same things: labels.go), and running them through the engine's
// exec API with a timeout and the output captured (run.go). It decides nothing about
// when an operation calls them: the backup verb (internal/app) and the upgrade's phases
// (internal/upgrade) do.
package svchooks

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
)

// Command is a command run inside each running container of a service (api.ServiceCommand).
type Command = maim.ServiceCommand

// Hooks is what a project asks for (api.ServiceHooks).
type Hooks = maim.ServiceHooks

// The labels read from a service's compose labels.
const (
	LabelStopDuringBackup = "docker-volume-backup.stop-during-backup"
	LabelArchivePre       = "docker-volume-backup.archive-pre"
	LabelArchivePost      = "docker-volume-backup.archive-post"
	LabelPreUpdate        = "com.centurylinklabs.watchtower.lifecycle.pre-update"
	LabelPostUpdate       = "com.centurylinklabs.watchtower.lifecycle.post-update"
	LabelStackBack        = "stack-back."
	userSuffix            = ".user"
	timeoutSuffix         = "-timeout"
)

// The x-maim keys of a service read here (other keys belong to other rooms).
const (
	ExtensionKey        = "x-maim"
	KeyStopDuringBackup = "stop_during_backup"
	KeyPreBackup        = "pre_backup"
	KeyPostBackup       = "post_backup"
	KeyPreUpgrade       = "pre_upgrade"
	KeyPostUpgrade      = "post_upgrade"
	KeyHookTimeout      = "hook_timeout"
	KeyDump             = "dump"
)

// Limits on what a label or key may hold.
const (
	// DefaultTimeout is a command's timeout when nothing sets one (watchtower's default too).
	DefaultTimeout = time.Minute
	// MaxTimeout is the longest timeout accepted.
	MaxTimeout = 24 * time.Hour
	// MaxCommand is the longest command accepted, in bytes.
	MaxCommand = 16 << 10
)

// ExitSkip is the exit code of a pre-upgrade command that asks to skip this upgrade
// (EX_TEMPFAIL, as watchtower reads it).
const ExitSkip = 75

var userRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9._-]{0,63})?$`)

// dumpKinds are the logical dumps stack-back's labels name.
var dumpKinds = []string{"postgres", "mysql", "mariadb"}

// keyDumpKinds are what the x-maim dump key takes: stack-back's and mongo (stack-back has
// no MongoDB label).
var keyDumpKinds = []string{"postgres", "mysql", "mariadb", "mongo"}

// FromProject reads every service's lifecycle labels and x-maim keys, services in name
// order. A value that cannot be used (a command too long or holding a NUL byte, a user
// that is no user name, a timeout that is no positive number of minutes or duration) is an
// error naming the service and the label: nothing runs on a guess.
func FromProject(p *types.Project) (*Hooks, error) {
	h := &Hooks{}
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := p.Services[name]
		if err := parseService(h, name, s.Labels, s.Extensions); err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
	}
	applyExecScope(h, p, offenScope(p))
	return h, nil
}

// For lists the commands that run at when, in service order.
func For(h *Hooks, when string) []Command {
	var out []Command
	if h == nil {
		return nil
	}
	for _, c := range h.Commands {
		if c.When == when {
			out = append(out, c)
		}
	}
	return out
}

// StopsDuringBackup tells whether service must not be copied hot.
func StopsDuringBackup(h *Hooks, service string) bool {
	if h == nil {
		return false
	}
	for _, s := range h.StopDuringBackup {
		if s == service {
			return true
		}
	}
	return false
}

// slot is one moment's command of a service: the label that declares it, the x-maim key
// that replaces it.
type slot struct {
	when, label, key string
	// timeoutLabel is watchtower's per-command timeout label (minutes), "" for offen's.
	timeoutLabel string
}

var slots = []slot{
	{when: maim.HookPreUpgrade, label: LabelPreUpdate, key: KeyPreUpgrade, timeoutLabel: LabelPreUpdate + timeoutSuffix},
	{when: maim.HookPreBackup, label: LabelArchivePre, key: KeyPreBackup},
	{when: maim.HookPostBackup, label: LabelArchivePost, key: KeyPostBackup},
	{when: maim.HookPostUpgrade, label: LabelPostUpdate, key: KeyPostUpgrade, timeoutLabel: LabelPostUpdate + timeoutSuffix},
}

func parseService(h *Hooks, name string, labels types.Labels, ext map[string]any) error {
	x, err := extension(ext)
	if err != nil {
		return err
	}
	def := DefaultTimeout
	if v, ok := x[KeyHookTimeout]; ok && v != nil {
		if def, err = duration(ExtensionKey+"."+KeyHookTimeout, v); err != nil {
			return err
		}
	}
	for _, sl := range slots {
		c, ok, err := fromLabels(name, sl, labels, def)
		if err != nil {
			return err
		}
		if v, set := x[sl.key]; set && v != nil {
			if c, ok, err = fromKey(name, sl, v, def); err != nil {
				return err
			}
		}
		if ok {
			h.Commands = append(h.Commands, c)
		}
	}
	stop, err := stopDuringBackup(labels, x)
	if err != nil {
		return err
	}
	if stop {
		h.StopDuringBackup = append(h.StopDuringBackup, name)
	}
	dumps, err := dumpRequests(name, labels, x)
	if err != nil {
		return err
	}
	h.Dumps = append(h.Dumps, dumps...)
	h.Ignored = append(h.Ignored, ignoredLabels(name, labels)...)
	return nil
}

// extension is the service's x-maim mapping (nil without one).
func extension(ext map[string]any) (map[string]any, error) {
	raw, ok := ext[ExtensionKey]
	if !ok || raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a mapping, not %T", ExtensionKey, raw)
	}
	return m, nil
}

// fromLabels reads a slot's command from offen's or watchtower's labels.
func fromLabels(service string, sl slot, labels types.Labels, def time.Duration) (Command, bool, error) {
	cmd, ok := labels[sl.label]
	if !ok || strings.TrimSpace(cmd) == "" {
		return Command{}, false, nil
	}
	if err := checkCommand(sl.label, cmd); err != nil {
		return Command{}, false, err
	}
	c := Command{Service: service, When: sl.when, Command: cmd, Timeout: def, From: sl.label}
	if sl.timeoutLabel == "" {
		if u, ok := labels[sl.label+userSuffix]; ok && strings.TrimSpace(u) != "" {
			if !userRe.MatchString(u) {
				return c, false, fmt.Errorf("label %s: %s is not a user name (USER or USER:GROUP)", sl.label+userSuffix, quoteShort(u))
			}
			c.User = u
		}
	} else if v, ok := labels[sl.timeoutLabel]; ok && strings.TrimSpace(v) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil:
			return c, false, fmt.Errorf("label %s: %s is not a number of minutes", sl.timeoutLabel, quoteShort(v))
		case n <= 0:
			return c, false, fmt.Errorf("label %s: %d: every command needs a timeout here (watchtower's 0 turns it off); give minutes, at most %d", sl.timeoutLabel, n, int(MaxTimeout/time.Minute))
		case n > int(MaxTimeout/time.Minute): // compared in minutes: no overflow
			return c, false, fmt.Errorf("label %s: %d minutes is longer than %s", sl.timeoutLabel, n, MaxTimeout)
		}
		c.Timeout = time.Duration(n) * time.Minute
	}
	return c, true, nil
}

// fromKey reads a slot's command from its x-maim key: a string (the command) or a mapping
// with command, user and timeout. An empty command turns the label's off.
func fromKey(service string, sl slot, v any, def time.Duration) (Command, bool, error) {
	where := ExtensionKey + "." + sl.key
	c := Command{Service: service, When: sl.when, Timeout: def, From: where}
	switch x := v.(type) {
	case string:
		c.Command = x
	case map[string]any:
		for k, val := range x {
			switch k {
			case "command":
				s, ok := val.(string)
				if !ok {
					return c, false, fmt.Errorf("%s.command must be a string, not %T", where, val)
				}
				c.Command = s
			case "user":
				s, ok := val.(string)
				if !ok || !userRe.MatchString(s) {
					return c, false, fmt.Errorf("%s.user: %s is not a user name (USER or USER:GROUP)", where, quoteShort(fmt.Sprint(val)))
				}
				c.User = s
			case "timeout":
				d, err := duration(where+".timeout", val)
				if err != nil {
					return c, false, err
				}
				c.Timeout = d
			default:
				return c, false, fmt.Errorf("%s: unknown key %s (want command, user, timeout)", where, quoteShort(k))
			}
		}
	default:
		return c, false, fmt.Errorf("%s must be a command or a mapping (command, user, timeout), not %T", where, v)
	}
	if strings.TrimSpace(c.Command) == "" {
		return c, false, nil
	}
	return c, true, checkCommand(where, c.Command)
}

func checkCommand(where, cmd string) error {
	if len(cmd) > MaxCommand {
		return fmt.Errorf("%s: the command is %d bytes, more than %d: put it in a script inside the image or a volume", where, len(cmd), MaxCommand)
	}
	if strings.ContainsRune(cmd, 0) {
		return fmt.Errorf("%s: the command holds a NUL byte", where)
	}
	return nil
}

// duration reads a timeout: a Go duration ("90s", "5m") or a number of seconds.
func duration(where string, v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(x)); err != nil {
			return 0, fmt.Errorf("%s: %s is not a duration (like 90s or 5m)", where, quoteShort(x))
		}
	case int:
		d = time.Duration(x) * time.Second
	case float64:
		d = time.Duration(x * float64(time.Second))
	default:
		return 0, fmt.Errorf("%s must be a duration (like 90s or 5m), not %T", where, v)
	}
	if d <= 0 || d > MaxTimeout {
		return 0, fmt.Errorf("%s: %s is not a timeout between 0 and %s", where, d, MaxTimeout)
	}
	return d, nil
}

// stopDuringBackup reads offen's label (any value but false/0/empty: offen's value names
// a group of its own, which docker-maim does not use) and the x-maim key (a boolean).
func stopDuringBackup(labels types.Labels, x map[string]any) (bool, error) {
	stop := false
	if v, ok := labels[LabelStopDuringBackup]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "false", "0", "no":
		default:
			stop = true
		}
	}
	if v, ok := x[KeyStopDuringBackup]; ok && v != nil {
		b, err := boolean(ExtensionKey+"."+KeyStopDuringBackup, v)
		if err != nil {
			return false, err
		}
		stop = b
	}
	return stop, nil
}

func boolean(where string, v any) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		pb, err := strconv.ParseBool(strings.TrimSpace(b))
		if err != nil {
			return false, fmt.Errorf("%s: %s is not a boolean", where, quoteShort(b))
		}
		return pb, nil
	}
	return false, fmt.Errorf("%s must be a boolean, not %T", where, v)
}

// dumpRequests reads stack-back's dump labels and the x-maim dump key.
func dumpRequests(service string, labels types.Labels, x map[string]any) ([]maim.DumpRequest, error) {
	var out []maim.DumpRequest
	if v, ok := x[KeyDump]; ok && v != nil {
		s, ok := v.(string)
		if !ok || !isDumpKind(s) {
			return nil, fmt.Errorf("%s.%s: %s is not one of %s", ExtensionKey, KeyDump, quoteShort(fmt.Sprint(v)), strings.Join(keyDumpKinds, ", "))
		}
		return []maim.DumpRequest{{Service: service, Kind: s, From: ExtensionKey + "." + KeyDump}}, nil
	}
	for _, k := range dumpKinds {
		if v, ok := labels[LabelStackBack+k]; ok {
			on, err := boolean("label "+LabelStackBack+k, v)
			if err != nil {
				return nil, err
			}
			if on {
				out = append(out, maim.DumpRequest{Service: service, Kind: k, From: LabelStackBack + k})
			}
		}
	}
	return out, nil
}

func isDumpKind(s string) bool {
	for _, k := range keyDumpKinds {
		if s == k {
			return true
		}
	}
	return false
}

// known are the labels of the three tools read here; others of theirs are listed as ignored.
var known = map[string]bool{
	LabelStopDuringBackup: true, LabelArchivePre: true, LabelArchivePost: true, LabelExecLabel: true,
	LabelArchivePre + userSuffix: true, LabelArchivePost + userSuffix: true,
	LabelPreUpdate: true, LabelPostUpdate: true,
	LabelPreUpdate + timeoutSuffix: true, LabelPostUpdate + timeoutSuffix: true,
	LabelStackBack + "postgres": true, LabelStackBack + "mysql": true, LabelStackBack + "mariadb": true,
}

// ignoredLabels lists the service's labels of those tools that docker-maim does not act on.
func ignoredLabels(service string, labels types.Labels) []string {
	var out []string
	for k := range labels {
		if known[k] {
			continue
		}
		if strings.HasPrefix(k, "docker-volume-backup.") || strings.HasPrefix(k, "com.centurylinklabs.watchtower.lifecycle.") || strings.HasPrefix(k, LabelStackBack) {
			out = append(out, fmt.Sprintf("%s: label %s is not used by docker-maim", service, quoteShort(k)))
		}
	}
	sort.Strings(out)
	return out
}

// quoteShort quotes s for a message, cut to 80 bytes.
func quoteShort(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + "..."
	}
	return strconv.Quote(s)
}
