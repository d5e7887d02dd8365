package plugin

import (
	"fmt"
	"os"

	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/spf13/cobra"
)

// choiceFlag is a string flag limited to a set of values; a bad value is a
// flag error (exit code 125 through the root's flag error function).
type choiceFlag struct {
	value   string
	choices []string
}

func (c *choiceFlag) String() string { return c.value }
func (c *choiceFlag) Type() string   { return "string" }
func (c *choiceFlag) Set(s string) error {
	for _, ch := range c.choices {
		if s == ch {
			c.value = s
			return nil
		}
	}
	return fmt.Errorf("must be one of %v", c.choices)
}

type configMergeOptions struct {
	template    string
	current     string
	output      string
	format      choiceFlag
	keepUnknown bool
	versionKeys []string
	report      choiceFlag
}

// NewConfigCommand returns the `config` command group: `config merge` merges a
// user's config into a new template, as `docker maim upgrade` does.
func NewConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config COMMAND",
		Short: "Work with application config files (merge a config into a new template)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newConfigMergeCommand())
	return cmd
}

func newConfigMergeCommand() *cobra.Command {
	o := &configMergeOptions{
		format: choiceFlag{choices: []string{"toml", "env", "yaml", "json"}},
		report: choiceFlag{value: "text", choices: []string{"text", "json"}},
	}
	cmd := &cobra.Command{
		Use:   "merge --template NEW --current OLD [OPTIONS]",
		Short: "Merge a config file into a new version's template",
		Long: `Merge a config file into a new version's template.

The output is the template's text (order, comments, blank lines kept) with your
values put in as you wrote them. Keys only the template has get its defaults;
keys only your file has are dropped (--keep-unknown keeps them; .env files always
keep them); arrays and arrays of tables are taken whole from your file; a value
whose type changed gets the template's default; the version key (--version-key,
inner.version for TOML by default) always comes from the template.

The merged file goes to stdout, or replaces --output atomically (keeping its
owner and mode). The report of new, removed and type-changed keys goes to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigMerge(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.template, "template", "", "The new version's config template (required)")
	f.StringVar(&o.current, "current", "", "The config file in use now (required)")
	f.StringVarP(&o.output, "output", "o", "", "Write the merged file here (atomically) instead of stdout")
	f.Var(&o.format, "format", "Config format: toml, env, yaml, json (default: from the file names)")
	f.BoolVar(&o.keepUnknown, "keep-unknown", false, "Keep keys the template does not have")
	f.StringSliceVar(&o.versionKeys, "version-key", nil, `Dotted key always taken from the template (default "inner.version" for TOML; "" for none)`)
	f.Var(&o.report, "report", "Report format on stderr: text or json")
	return cmd
}

func runConfigMerge(cmd *cobra.Command, o *configMergeOptions) error {
	if o.template == "" || o.current == "" {
		return cmd.FlagErrorFunc()(cmd, fmt.Errorf("--template and --current are required"))
	}
	format := config.Format(o.format.value)
	if format == "" {
		if format = config.FormatFromName(o.current); format == "" {
			format = config.FormatFromName(o.template)
		}
		if format == "" {
			return cmd.FlagErrorFunc()(cmd, fmt.Errorf("cannot tell the format of %s; use --format toml|env|yaml|json", o.current))
		}
	}
	var versionKeys []string
	switch {
	case cmd.Flags().Changed("version-key"):
		for _, k := range o.versionKeys {
			if k != "" {
				versionKeys = append(versionKeys, k)
			}
		}
	case format == config.TOML:
		versionKeys = []string{config.MaiBotVersionKey}
	}
	tmpl, err := os.ReadFile(o.template)
	if err != nil {
		return err
	}
	cur, err := os.ReadFile(o.current)
	if err != nil {
		return err
	}
	merged, rep, err := config.Merge(tmpl, cur, config.Options{
		Format:       format,
		KeepUnknown:  o.keepUnknown,
		VersionKeys:  versionKeys,
		TemplateName: o.template,
		CurrentName:  o.current,
	})
	if err != nil {
		return err
	}
	if o.output != "" {
		if err := config.ApplyFile(o.output, merged); err != nil {
			return err
		}
	} else if _, err := cmd.OutOrStdout().Write(merged); err != nil {
		return err
	}
	if o.report.value == "json" {
		b, err := rep.JSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.ErrOrStderr(), "%s\n", b)
		return err
	}
	_, err = fmt.Fprint(cmd.ErrOrStderr(), rep.Text())
	return err
}
