package plugin

import (
	"fmt"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/spf13/pflag"
)

// choiceFlag is a string flag limited to a set of values. It is the one way every
// choice-valued flag (--format, --progress, --compression, --report, config merge's
// --format) is validated: while the flags are parsed, so a bad value is a usage error
// (exit code 125 through the root's flag error function) before anything contacts the
// engine. Aliases are accepted values left out of the help text.
type choiceFlag struct {
	value   string
	choices []string
	aliases []string
	// templates: a Go template (anything with "{{") is a value too, checked as
	// docker/cli's formatter parses it (the listing commands' --format).
	templates bool
}

func newChoice(def string, choices ...string) *choiceFlag {
	return &choiceFlag{value: def, choices: choices}
}

func (c *choiceFlag) String() string { return c.value }
func (c *choiceFlag) Type() string   { return "string" }
func (c *choiceFlag) Set(s string) error {
	if c.templates && isTemplate(s) {
		if err := checkTemplate(s); err != nil {
			return err
		}
		c.value = s
		return nil
	}
	for _, ch := range append(append([]string{}, c.choices...), c.aliases...) {
		if s == ch {
			c.value = s
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(c.choices, ", "))
}

// Output formats. "table" is the text format of the listing commands (backups, status).
const (
	formatText  = "text"
	formatTable = "table"
	formatJSON  = "json"
)

// formatFlag adds --format (text or table, or json) with its default.
func formatFlag(fs *pflag.FlagSet, def string) *choiceFlag {
	c := newChoice(def, formatText, formatJSON)
	if def == formatTable {
		c.choices = []string{formatTable, formatJSON}
		c.aliases = []string{formatText}
		c.templates = true
	} else {
		c.aliases = []string{formatTable}
	}
	usage := "Output `FORMAT`: " + strings.Join(c.choices, " or ") + " (JSON: docs/json.md)"
	if c.templates {
		usage = "Output `FORMAT`: table, json, or a Go template as docker's ('{{json .}}'; 'table ' before it adds headers; the fields: docs/json.md)"
	}
	fs.Var(c, "format", usage)
	return c
}

func (c *choiceFlag) json() bool { return c.value == formatJSON }

// compressionFlag adds --compression; what is what is compressed ("Archive", "Backup").
func compressionFlag(fs *pflag.FlagSet, what string) *choiceFlag {
	c := newChoice(string(api.Zstd), "zstd", "gzip", "none")
	c.aliases = []string{"zst", "gz", "tar"}
	fs.Var(c, "compression", what+" compression `CODEC`: "+strings.Join(c.choices, ", "))
	return c
}

// compression is the flag's value as an api.Compression (the flag has validated it).
func (c *choiceFlag) compression() api.Compression {
	comp, err := api.ParseCompression(c.value)
	if err != nil {
		panic(err) // unreachable: the choices are what ParseCompression accepts
	}
	return comp
}

// healthFlags are the health gate's flags, shared by upgrade, restore and rollback.
type healthFlags struct {
	Timeout          time.Duration
	StablePeriod     time.Duration
	MigrationTimeout time.Duration
}

func (h *healthFlags) add(fs *pflag.FlagSet) {
	durationVar(fs, &h.Timeout, "timeout", api.DefaultTimeout, "Give the services up to `DURATION` in all to prove healthy")
	durationVar(fs, &h.StablePeriod, "stable-period", api.DefaultStablePeriod, "A service without a healthcheck must keep running, without restarts, for `DURATION` (0s: running once is enough)")
	durationVar(fs, &h.MigrationTimeout, "migration-timeout", api.DefaultMigrationTimeout, "Give a MaiBot core whose log keeps growing (a database migration) up to `DURATION` to log its ready banner; --timeout still ends a silent wait")
}

// options are the gate's api options. A zero --stable-period means zero: the api's zero
// is "the default" (15s), so it becomes the negative value that says "running once is
// enough"; the default itself arrives as the flag's default value.
func (h *healthFlags) options() api.HealthOptions {
	stable := h.StablePeriod
	if stable == 0 {
		stable = -1
	}
	return api.HealthOptions{Timeout: h.Timeout, StablePeriod: stable, MigrationTimeout: h.MigrationTimeout}
}
