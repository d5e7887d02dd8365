package plugin

// The listing commands' scripting outputs (backups, projects, status): -q (one ID or
// name a line, as `docker ps -q`) and --format TEMPLATE, rendered by docker/cli's own
// formatter as `docker ps --format` renders (`{{.ID}} {{.Reason}}`, `table {{.ID}}\t...`
// with headers, `{{json .}}`). The fields each row offers are documented in
// docs/json.md ("Templates").

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/plantext"
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

// quietFlag adds -q/--quiet to a listing command; what it prints is said in usage.
func quietFlag(cmd *cobra.Command, usage string) *bool {
	q := new(bool)
	cmd.Flags().BoolVarP(q, "quiet", "q", false, usage)
	return q
}

// listed writes a listing's rows for -q (each row's first field, one a line; -q wins over
// a --format given too, with docker's warning) or a --format template, and tells whether
// it did; otherwise the command prints its table.
func listed[T formatter.SubContext](cmd *cobra.Command, format *choiceFlag, quiet bool, rows []T) (bool, error) {
	out := cmd.OutOrStdout()
	switch {
	case quiet:
		if cmd.Flags().Changed("format") {
			fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Ignoring custom format, because both --format and --quiet are set.")
		}
		for _, r := range rows {
			fmt.Fprintln(out, reflect.ValueOf(r).Elem().Field(1).Interface())
		}
		return true, nil
	case !isTemplate(format.value):
		return false, nil
	}
	ctx := formatter.Context{Output: out, Format: formatter.Format(format.value)}
	head := &formatter.HeaderContext{Header: headerOf(rows)}
	return true, ctx.Write(head, func(f func(formatter.SubContext) error) error {
		for _, r := range rows {
			if err := f(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// headerOf names each field of a row type's table column: ToolVersion is TOOL VERSION.
func headerOf[T any](_ []T) formatter.SubHeaderContext {
	h := formatter.SubHeaderContext{}
	typ := reflect.TypeFor[T]().Elem()
	for i := 1; i < typ.NumField(); i++ {
		var b strings.Builder
		for j, r := range typ.Field(i).Name {
			if j > 0 && unicode.IsUpper(r) && !unicode.IsUpper(rune(typ.Field(i).Name[j-1])) {
				b.WriteByte(' ')
			}
			b.WriteRune(unicode.ToUpper(r))
		}
		h[typ.Field(i).Name] = b.String()
	}
	return h
}

// backupRow is a row of `backups`; its first field is what -q prints.
type backupRow struct {
	formatter.HeaderContext                                                                                                 `json:"-"`
	ID, Project, Time, CreatedAt, Reason, Size, Bytes, Sources, Status, Problem, ToolVersion, Dir, Owner, Origin, Locations string
}

func backupRows(rows []api.BackupRow) []*backupRow {
	out := make([]*backupRow, 0, len(rows))
	for _, r := range rows {
		b := &backupRow{ID: r.ID, Project: r.Project, Reason: r.Reason, Size: units.HumanSize(float64(r.Size)), Bytes: units.HumanSize(float64(r.Bytes)),
			Sources: strings.Join(r.Sources, ","), Status: string(r.Status), Problem: r.Problem, ToolVersion: r.ToolVersion, Dir: r.Dir, Owner: string(r.Owner),
			Locations: plantext.Locations(r)}
		if !r.Time.IsZero() {
			b.Time, b.CreatedAt = r.Time.Local().Format("2006-01-02 15:04:05"), r.Time.UTC().Format(time.RFC3339)
		}
		if r.Origin != nil {
			b.Origin = r.Origin.String()
		}
		out = append(out, b)
	}
	return out
}

// projectRow is a row of `projects`; its first field is what -q prints.
type projectRow struct {
	formatter.HeaderContext `json:"-"`
	Name, Services          string
	Running, Containers     int
	Known                   bool
	WorkingDir, ConfigFiles string
}

func projectRows(ps []api.ProjectSummary) []*projectRow {
	out := make([]*projectRow, 0, len(ps))
	for _, p := range ps {
		out = append(out, &projectRow{Name: p.Name, Services: strings.Join(p.Services, ","), Running: p.Running, Containers: p.Containers,
			Known: p.Known, WorkingDir: p.WorkingDir, ConfigFiles: strings.Join(p.ConfigFiles, ",")})
	}
	return out
}

// serviceRow is a row of `status`, one container of a service; its first field is what
// -q prints.
type serviceRow struct {
	formatter.HeaderContext                                                     `json:"-"`
	Container, Project, Service, Image, ImageID, Version, Digest, State, Health string
}

func serviceRows(st *api.StatusResult) []*serviceRow {
	out := make([]*serviceRow, 0, len(st.Services))
	for _, s := range st.Services {
		out = append(out, &serviceRow{Container: s.Container, Project: st.Project, Service: s.Service, Image: s.Image, ImageID: s.ImageID,
			Version: s.Version, Digest: s.Digest, State: s.State, Health: s.Health})
	}
	return out
}
