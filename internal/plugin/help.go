package plugin

import (
	"fmt"
	"strings"

	"github.com/moby/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ProjectOptionsAnnotation marks a command that works on a Compose project, so its help
// (and its page in docs/reference, cmd/maim-docs) points to the project options once
// instead of repeating them: they are persistent flags of the root command, accepted
// before or after every command, and listed in full only by `docker maim --help`.
const ProjectOptionsAnnotation = "maim-project-options"

// projectCommands are the commands that work on the project the project options select.
var projectCommands = map[string]bool{
	"backup": true, "backups": true, "verify": true, "restore": true,
	"upgrade": true, "rollback": true, "status": true, "prune": true, "schedule": true,
}

// usageTemplate is docker's help layout (docker/cli's cli/cobra.go: Usage, the
// description, Aliases, Examples, Options, Commands) with two changes: a command's Options
// are its own flags (cobra's LocalFlags), and the project options, persistent flags of the
// root, are listed once, as the root's "Project Options", with a pointer to them in the
// help of each command that uses them. It is set on the maim root, so the help reads the
// same run by the docker CLI, standalone and in the unit tests.
const usageTemplate = `Usage:
{{- if not .HasAvailableSubCommands}}  {{.UseLine}}{{end}}
{{- if .HasAvailableSubCommands}}  {{.CommandPath}}{{if .HasAvailableLocalFlags}} [OPTIONS]{{end}} COMMAND{{end}}

{{if ne .Long ""}}{{.Long | trim}}{{else}}{{.Short | trim}}{{end}}
{{- if gt (len .Aliases) 0}}

Aliases:
  {{maimAliases .}}
{{- end}}
{{- if .HasExample}}

Examples:
{{.Example}}
{{- end}}
{{- if .HasAvailableLocalFlags}}

{{if maimIsRoot .}}Project Options{{else}}Options{{end}}:
{{maimFlagUsages .LocalFlags | trimRightSpace}}
{{- end}}
{{- with maimProjectPointer .}}

Project Options:
{{.}}
{{- end}}
{{- if .HasAvailableSubCommands}}

Commands:
{{- range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .Name (maimNamePadding $)}} {{.Short}}{{end}}{{end}}

Run '{{.CommandPath}} COMMAND --help' for more information on a command.
{{- end}}
`

// helpTemplate prints the usage only, as docker's does (the usage holds the description).
const helpTemplate = `{{if or .Runnable .HasSubCommands}}{{.UsageString}}{{end}}`

// rootAnnotation marks the maim root command (in the plugin it has the docker-maim root
// of the docker CLI's plugin framework above it).
const rootAnnotation = "maim-root"

func init() {
	cobra.AddTemplateFunc("maimIsRoot", func(c *cobra.Command) bool { return c.Annotations[rootAnnotation] != "" })
	cobra.AddTemplateFunc("maimFlagUsages", func(fs *pflag.FlagSet) string { return fs.FlagUsagesWrapped(termWidth() - 1) })
	cobra.AddTemplateFunc("maimProjectPointer", projectPointer)
	cobra.AddTemplateFunc("maimAliases", commandAliases)
	cobra.AddTemplateFunc("maimNamePadding", namePadding)
}

// namePadding is the width of the longest name among c's listed subcommands (cobra's
// NamePadding counts hidden ones too).
func namePadding(c *cobra.Command) int {
	n := 0
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			n = max(n, len(sub.Name()))
		}
	}
	return n + 1
}

// termWidth is the terminal's width, 80 when it cannot be told (docker's rule: the width of
// standard input's terminal).
func termWidth() int {
	if ws, err := term.GetWinsize(0); err == nil && ws.Width > 20 {
		return int(ws.Width)
	}
	return 80
}

// commandAliases is the command's path and its aliases as they are typed
// ("docker maim backups, docker maim ls"), as docker's help shows them.
func commandAliases(c *cobra.Command) string {
	parent := ""
	if c.HasParent() {
		parent = c.Parent().CommandPath() + " "
	}
	parts := []string{c.CommandPath()}
	for _, a := range c.Aliases {
		parts = append(parts, parent+a)
	}
	return strings.Join(parts, ", ")
}

// ProjectFlags are the project options: the visible persistent flags of the maim root
// that holds c, in the order they are declared (-f, -p, --project-directory, ...).
func ProjectFlags(c *cobra.Command) []*pflag.Flag {
	for ; c != nil; c = c.Parent() {
		if c.Annotations[rootAnnotation] == "" {
			continue
		}
		var out []*pflag.Flag
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				out = append(out, f)
			}
		})
		return out
	}
	return nil
}

// projectPointer is the help's line naming the project options of a command that uses
// them, wrapped to the terminal; "" for any other command.
func projectPointer(c *cobra.Command) string {
	if c.Annotations[ProjectOptionsAnnotation] == "" {
		return ""
	}
	var names []string
	for _, f := range ProjectFlags(c) {
		n := "--" + f.Name
		if f.Shorthand != "" {
			n = "-" + f.Shorthand
		}
		names = append(names, n)
	}
	root := c
	for root.Annotations[rootAnnotation] == "" && root.HasParent() {
		root = root.Parent()
	}
	text := strings.Join(names, ", ") + " (before or after the command): see '" + root.CommandPath() + " --help'"
	return wrap(text, termWidth()-3, "  ")
}

// wrap breaks text into lines of at most width columns (words longer stay whole), each
// line after indent.
func wrap(text string, width int, indent string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, indent+line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, indent+line)
	}
	return strings.Join(lines, "\n")
}

// noArgs refuses any argument: for a command group an unknown command, for any other
// command an argument it does not take (argsUsage makes it a usage error).
func noArgs(c *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return nil
	case c.HasSubCommands():
		return fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())
	}
	return fmt.Errorf("%q accepts no arguments, got %q", c.CommandPath(), args[0])
}

// atMostOneID is the argument check of a command that takes an optional backup ID.
func atMostOneID(c *cobra.Command, args []string) error {
	if len(args) > 1 {
		return fmt.Errorf("%q takes at most one backup ID, got %d arguments", c.CommandPath(), len(args))
	}
	return nil
}

// argsUsage is a command's argument check (noArgs when it has none) returning a usage
// error (exit 125), with the command's output format recorded as after a flag error, so
// `--format json` gets its JSON error document for a stray argument too.
func argsUsage(check cobra.PositionalArgs, s *state) cobra.PositionalArgs {
	if check == nil {
		check = noArgs
	}
	return func(c *cobra.Command, args []string) error {
		err := check(c, args)
		if err == nil {
			return nil
		}
		s.record(c, true)
		if _, ok := err.(usageError); !ok {
			err = usageError{err}
		}
		return err
	}
}

// finishTree sets what every command of the tree shares: docker's help layout; no [flags]
// in the usage line (it says [OPTIONS]); an argument a command does not take is a usage
// error (exit 125), also for a command group, which is runnable and shows its help when
// called alone instead of printing help and exiting 0 for a typo; the project-options
// annotation on the commands that use the project.
func finishTree(root *cobra.Command, s *state) {
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpTemplate(helpTemplate)
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[rootAnnotation] = "true"
	root.PersistentFlags().SortFlags = false // ProjectFlags in the order declared, as compose's
	// docker's help flag (cli/cobra.go): hidden, so no command lists it among its options.
	root.PersistentFlags().BoolP("help", "h", false, "Print usage")
	root.PersistentFlags().Lookup("help").Hidden = true
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		c.Args = argsUsage(c.Args, s)
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
		if c.Parent() == root && projectCommands[c.Name()] {
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[ProjectOptionsAnnotation] = "true"
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
