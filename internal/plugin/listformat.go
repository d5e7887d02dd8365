package plugin

// The listing commands' scripting outputs (backups, projects, status): -q (one ID or
// name a line, as `docker ps -q`) and --format TEMPLATE, rendered by docker/cli's own
// formatter as `docker ps --format` renders (`{{.ID}} {{.Reason}}`, `table {{.ID}}\t...`
// with headers, `{{json .}}`). The fields each row offers are documented in
// docs/json.md ("Templates").

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/cli/cli/command/formatter"
	"github.com/docker/cli/templates"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// isTemplate tells whether a --format value is a Go template rather than a keyword.
func isTemplate(s string) bool { return strings.Contains(s, "{{") }

// checkTemplate parses a --format template as docker/cli's formatter will (a leading
// "table" makes it a table with headers; \t and \n are tab and newline).
func checkTemplate(s string) error {
	t := strings.TrimPrefix(s, formatter.TableFormatKey)
	t = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.Trim(t, " "))
	if _, err := templates.Parse(t); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	return nil
}

// template is the --format value when it is a Go template ("" for table, json).
func (c *choiceFlag) template() string {
	if isTemplate(c.value) {
		return c.value
	}
	return ""
}

// quietFlag adds -q/--quiet to a listing command; what it prints is said in usage.
func quietFlag(cmd *cobra.Command, usage string) *bool {
	q := new(bool)
	cmd.Flags().BoolVarP(q, "quiet", "q", false, usage)
	return q
}

// quietWarning says on stderr, as docker ps does, that -q wins over a --format given too.
func quietWarning(cmd *cobra.Command) {
	if cmd.Flags().Changed("format") {
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
}

// writeLines writes one line each (-q).
func writeLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// writeTemplate renders rows with docker/cli's formatter: each row through the template,
// a "table ..." template under a header line made from header's names.
func writeTemplate[T formatter.SubContext](w io.Writer, format string, header map[string]string, rows []T) error {
	ctx := formatter.Context{Output: w, Format: formatter.Format(format)}
	head := &formatter.HeaderContext{Header: formatter.SubHeaderContext(header)}
	return ctx.Write(head, func(f func(formatter.SubContext) error) error {
		for _, r := range rows {
			if err := f(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func localTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// backupRow is a row of `backups --format TEMPLATE`.
type backupRow struct {
	formatter.HeaderContext
	r api.BackupRow
}

var backupHeader = map[string]string{
	"ID": "ID", "Project": "PROJECT", "Time": "TIME", "CreatedAt": "CREATED AT", "Reason": "REASON", "Size": "SIZE",
	"Bytes": "BYTES", "Sources": "SOURCES", "Status": "STATUS", "Problem": "PROBLEM", "ToolVersion": "TOOL VERSION",
	"Dir": "DIR", "Owner": "OWNER", "Origin": "ORIGIN",
}

func backupRows(rows []api.BackupRow) []*backupRow {
	out := make([]*backupRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, &backupRow{r: r})
	}
	return out
}

func (c *backupRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(c) }
func (c *backupRow) ID() string                   { return c.r.ID }
func (c *backupRow) Project() string              { return c.r.Project }
func (c *backupRow) Time() string                 { return localTime(c.r.Time) }
func (c *backupRow) CreatedAt() string {
	if c.r.Time.IsZero() {
		return ""
	}
	return c.r.Time.UTC().Format(time.RFC3339)
}
func (c *backupRow) Reason() string      { return c.r.Reason }
func (c *backupRow) Size() string        { return units.HumanSize(float64(c.r.Size)) }
func (c *backupRow) Bytes() string       { return units.HumanSize(float64(c.r.Bytes)) }
func (c *backupRow) Sources() string     { return strings.Join(c.r.Sources, ",") }
func (c *backupRow) Status() string      { return string(c.r.Status) }
func (c *backupRow) Problem() string     { return c.r.Problem }
func (c *backupRow) ToolVersion() string { return c.r.ToolVersion }
func (c *backupRow) Dir() string         { return c.r.Dir }
func (c *backupRow) Owner() string       { return string(c.r.Owner) }
func (c *backupRow) Origin() string {
	if c.r.Origin == nil {
		return ""
	}
	return c.r.Origin.String()
}

// projectRow is a row of `projects --format TEMPLATE`.
type projectRow struct {
	formatter.HeaderContext
	p api.ProjectSummary
}

var projectHeader = map[string]string{
	"Name": "PROJECT", "Services": "SERVICES", "Running": "RUNNING", "Containers": "CONTAINERS",
	"Known": "KNOWN", "WorkingDir": "DIRECTORY", "ConfigFiles": "CONFIG FILES",
}

func projectRows(ps []api.ProjectSummary) []*projectRow {
	out := make([]*projectRow, 0, len(ps))
	for _, p := range ps {
		out = append(out, &projectRow{p: p})
	}
	return out
}

func (c *projectRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(c) }
func (c *projectRow) Name() string                 { return c.p.Name }
func (c *projectRow) Services() string             { return strings.Join(c.p.Services, ",") }
func (c *projectRow) Running() int                 { return c.p.Running }
func (c *projectRow) Containers() int              { return c.p.Containers }
func (c *projectRow) Known() bool                  { return c.p.Known }
func (c *projectRow) WorkingDir() string           { return c.p.WorkingDir }
func (c *projectRow) ConfigFiles() string          { return strings.Join(c.p.ConfigFiles, ",") }

// serviceRow is a row of `status --format TEMPLATE`: one container of a service.
type serviceRow struct {
	formatter.HeaderContext
	project string
	s       api.ServiceStatus
}

var serviceHeader = map[string]string{
	"Project": "PROJECT", "Service": "SERVICE", "Container": "CONTAINER", "Image": "IMAGE", "ImageID": "IMAGE ID",
	"Version": "VERSION", "Digest": "DIGEST", "State": "STATE", "Health": "HEALTH",
}

func serviceRows(st *api.StatusResult) []*serviceRow {
	out := make([]*serviceRow, 0, len(st.Services))
	for _, s := range st.Services {
		out = append(out, &serviceRow{project: st.Project, s: s})
	}
	return out
}

func (c *serviceRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(c) }
func (c *serviceRow) Project() string              { return c.project }
func (c *serviceRow) Service() string              { return c.s.Service }
func (c *serviceRow) Container() string            { return c.s.Container }
func (c *serviceRow) Image() string                { return c.s.Image }
func (c *serviceRow) ImageID() string              { return c.s.ImageID }
func (c *serviceRow) Version() string              { return c.s.Version }
func (c *serviceRow) Digest() string               { return c.s.Digest }
func (c *serviceRow) State() string                { return c.s.State }
func (c *serviceRow) Health() string               { return c.s.Health }
