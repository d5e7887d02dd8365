package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
)

// UnitPrefix starts the name of every unit docker-maim writes.
const UnitPrefix = "docker-maim-"

// Escape is s escaped as `systemd-escape` does (without --path): '/' becomes '-', and
// every byte other than ASCII letters, digits, ':', '_' and '.' (and a leading '.')
// becomes \xNN, so any project name makes one valid unit-name part.
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0, !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '.'):
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Unescape undoes Escape ('-' back to '/').
func Unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '-':
			b.WriteByte('/')
		case s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x':
			n, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in %q", s)
			}
			b.WriteByte(byte(n))
			i += 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// UnitName is the project's unit name without its suffix: docker-maim-ESCAPED.
func UnitName(project string) string { return UnitPrefix + Escape(project) }

// unitQuote is s as one word of a unit file's ExecStart=: double-quoted with C escapes,
// '%' doubled (specifiers) and '$' doubled (no environment substitution).
func unitQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "%", "%%", "$", "$$")
	return `"` + r.Replace(s) + `"`
}

// unitText is s for a free-text setting (Description=): one line, specifiers escaped.
func unitText(s string) string {
	q := strconv.Quote(s)
	return strings.ReplaceAll(q, "%", "%%")
}

// Units are the service and timer units of job at when. system: units of the system
// manager (root), which wait for docker.service and carry HOME.
func Units(job Job, when When, system bool) (service, timer string) {
	var s strings.Builder
	s.WriteString("# Written by `docker maim schedule set`; `docker maim schedule remove` removes it.\n")
	s.WriteString("[Unit]\nDescription=docker-maim backup and prune of project " + unitText(job.Project) + "\n")
	s.WriteString("Documentation=https://github.com/docker-maim/docker-maim#schedules\n")
	if system {
		s.WriteString("Wants=docker.service\nAfter=docker.service network-online.target\n")
	}
	s.WriteString("\n[Service]\nType=oneshot\n")
	s.WriteString("ExecStart=/bin/sh -c " + unitQuote(job.Script()) + "\n")
	var t strings.Builder
	t.WriteString("# Written by `docker maim schedule set`; `docker maim schedule remove` removes it.\n")
	t.WriteString("[Unit]\nDescription=Schedule of docker-maim backup and prune of project " + unitText(job.Project) + "\n\n")
	t.WriteString("[Timer]\nOnCalendar=" + when.OnCalendar + "\nPersistent=true\n\n")
	t.WriteString("[Install]\nWantedBy=timers.target\n")
	return s.String(), t.String()
}

// Marker is the comment line before a project's cron entry.
func Marker(project string) string { return "# docker-maim " + project }

// ErrNewline refuses what a crontab line cannot hold.
var ErrNewline = errors.New("a crontab line cannot hold a newline: use --via systemd, or a project name and paths without one")

// CronEntry is the project's two crontab lines (marker, then the job), each ended by a
// newline: the script in a subshell appending to job.Log, '%' escaped as cron needs.
func CronEntry(job Job, when When) (string, error) {
	line := "( " + job.Script() + " ) >>" + Quote(job.Log) + " 2>&1"
	if strings.ContainsAny(line+job.Project, "\n\r") {
		return "", ErrNewline
	}
	line = strings.ReplaceAll(line, "%", `\%`)
	return Marker(job.Project) + "\n" + when.Cron + " " + line + "\n", nil
}

// splitLines splits a crontab into its lines, each with its own line end as it was.
func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// EditCrontab removes project's entry (its marker line and the line after it) from tab
// and, when entry is not "", appends entry: every other line is kept byte for byte (a
// last line without a newline gets one). found says whether an entry was removed.
func EditCrontab(tab, project, entry string) (out string, found bool) {
	lines := splitLines(tab)
	var b strings.Builder
	for i := 0; i < len(lines); i++ {
		if strings.TrimRight(lines[i], "\r\n") == Marker(project) {
			found = true
			i++ // the job line
			continue
		}
		b.WriteString(lines[i])
	}
	out = b.String()
	if entry != "" {
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		out += entry
	}
	return out, found
}

// CronEntries are the docker-maim entries of tab: each marker's project with the line
// after it (its time fields, its command and its log file).
func CronEntries(tab string) []api.Schedule {
	var out []api.Schedule
	lines := splitLines(tab)
	for i := 0; i+1 < len(lines); i++ {
		name, ok := strings.CutPrefix(strings.TrimRight(lines[i], "\r\n"), Marker(""))
		if !ok || name == "" {
			continue
		}
		job := strings.TrimRight(lines[i+1], "\r\n")
		n := 5
		if strings.HasPrefix(job, "@") {
			n = 1
		}
		f := strings.SplitN(job, " ", n+1)
		if len(f) <= n {
			continue
		}
		s := api.Schedule{Project: name, Via: api.ViaCron, When: strings.Join(f[:n], " "), Command: f[n]}
		if k := strings.LastIndex(s.Command, " ) >>"); k >= 0 && strings.HasPrefix(s.Command, "( ") {
			s.Log = unquote(strings.TrimSuffix(s.Command[k+5:], " 2>&1"))
			s.Command = s.Command[2:k]
		}
		s.Command = strings.ReplaceAll(s.Command, `\%`, "%")
		out = append(out, s)
		i++
	}
	return out
}

// unquote undoes Quote.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], `'\''`, "'")
	}
	return s
}
