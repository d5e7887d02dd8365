package plugin

import (
	"fmt"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/spf13/cobra"
)

type configMergeOptions struct {
	template    string
	current     string
	output      string
	format      *choiceFlag
	keepUnknown bool
	versionKeys []string
	report      *choiceFlag
}

// newConfigCommand returns the `config` command group: `config merge` merges a
// user's config into a new template, as `docker maim upgrade` does.
func newConfigCommand(s *state) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "config COMMAND",
		Short:   "Work with application config files (merge a config into a new template)",
		Example: `  docker maim config merge --template bot_config_template.toml --current bot_config.toml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newConfigMergeCommand(s))
	return cmd
}

func newConfigMergeCommand(s *state) *cobra.Command {
	o := &configMergeOptions{
		format: newChoice("", "toml", "env", "yaml", "json"),
		report: newChoice(formatText, formatText, formatJSON),
	}
	cmd := &cobra.Command{
		Use:   "merge [OPTIONS] --template FILE --current FILE",
		Short: "Merge a config file into a new version's template",
		Long: `Merge a config file into a new version's template.

The output is the template's text (order, comments, blank lines kept) with your
values put in as you wrote them. Keys only the template has get its defaults;
keys only your file has are dropped (--keep-unknown keeps them; .env files always
keep them); arrays and arrays of tables are taken whole from your file; a value
whose type changed gets the template's default; the version key (--version-key,
inner.version for TOML by default) always comes from the template.

The merged file goes to stdout, or replaces --output atomically (keeping its
owner and mode). The report of new, removed and type-changed keys goes to stderr
(--report json: a JSON document, docs/json.md; an error is then a JSON document on stdout).`,
		Example: `  # Print the merged file, and on stderr the keys that are new, removed or changed type
  docker maim config merge --template bot_config_template.toml --current bot_config.toml

  # Merge an env file in place, reporting as JSON
  docker maim config merge --template template.env --current .env --output .env --report json`,
		Annotations: map[string]string{outputFlagAnnotation: "report"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigMerge(cmd, s, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.template, "template", "", "The new version's config template `FILE` (required)")
	f.StringVar(&o.current, "current", "", "The config `FILE` in use now (required)")
	f.StringVarP(&o.output, "output", "o", "", "Write the merged file to `FILE` (atomically) instead of stdout")
	f.Var(o.format, "format", "Config `FORMAT`: toml, env, yaml, json (default: from the file names)")
	f.BoolVar(&o.keepUnknown, "keep-unknown", false, "Keep keys the template does not have")
	f.StringSliceVar(&o.versionKeys, "version-key", nil, "Dotted `KEY` always taken from the template (default \"inner.version\" for TOML; \"\" for none)")
	f.Var(o.report, "report", "Report `FORMAT` on stderr: text or json")
	return cmd
}

func runConfigMerge(cmd *cobra.Command, s *state, o *configMergeOptions) error {
	if o.template == "" || o.current == "" {
		return cmd.FlagErrorFunc()(cmd, fmt.Errorf("--template and --current are required"))
	}
	var versionKeys []string
	if cmd.Flags().Changed("version-key") {
		versionKeys = []string{}
		for _, k := range o.versionKeys {
			if k != "" {
				versionKeys = append(versionKeys, k)
			}
		}
	}
	res, err := s.svc(cmd).MergeConfig(cmd.Context(), api.MergeConfigOptions{
		Template: o.template, Current: o.current, Output: o.output, Format: api.ConfigFormat(o.format.value),
		KeepUnknown: o.keepUnknown, VersionKeys: versionKeys,
	})
	if err != nil {
		if o.report.json() {
			return printJSON(cmd.OutOrStdout(), nil, err)
		}
		return err
	}
	if o.output == "" {
		if _, err := cmd.OutOrStdout().Write(res.Merged); err != nil {
			return err
		}
	}
	if o.report.json() {
		b, err := res.Report.JSON()
		if err != nil {
			return err
		}
		return writeRawDoc(cmd.ErrOrStderr(), b, nil)
	}
	_, err = fmt.Fprint(cmd.ErrOrStderr(), res.Report.Text())
	return err
}
