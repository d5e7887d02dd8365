package plugin

// Shell completion of every command, argument and flag value. The docker CLI completes a
// plugin by running it: `docker __complete maim restore ''` runs
// `docker-maim __complete maim restore ''` (cli-plugins/manager's command stubs), and
// cobra's __complete command, on the plugin's top-level command, answers with the
// candidates and a `:N` directive line. registerCompletions attaches the completion
// functions to the commands and flags by name, so a command's file says only what the
// command does.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// completionTimeout bounds what a completion may wait for (the engine, for -p): a shell
// waits for the answer with the user's hand on the keyboard.
const completionTimeout = 3 * time.Second

// backupIDCommands take a backup ID as their argument (when their Args accept one).
var backupIDCommands = map[string]bool{"verify": true, "restore": true, "rollback": true, "prune": true}

// serviceFlags take a service: the value's form, "SERVICE" or "SERVICE=..." (completed as
// "SERVICE=", with no space after it).
var serviceFlags = map[string]string{"image": "SERVICE=REF", "dump": "SERVICE", "migrate-db": "SERVICE"}

// registerCompletions adds the `completion` command and attaches a completion function to
// every command's arguments and to every flag of root's tree, looked up by name: choice
// flags (choiceFlag) complete their values, file flags files (yaml only for compose files),
// directory flags directories, and the flags and arguments that name a project, a service,
// a profile, a data source or a backup complete those, read through the Service (Describe,
// Projects). Arguments and flags that take anything else complete nothing (no file names,
// as docker's plugin framework sets by default).
func registerCompletions(root *cobra.Command, s *state) {
	root.AddCommand(newCompletionCommand())
	c := &completer{s: s}
	byName := map[string]cobra.CompletionFunc{
		"file":              yamlFiles,
		"compose-file":      yamlFiles,
		"base":              yamlFiles,
		"env-file":          anyFiles,
		"include-host-path": anyFiles,
		"template":          anyFiles,
		"current":           anyFiles,
		"output":            anyFiles,
		"project-directory": directories,
		"backup-dir":        directories,
		"project-name":      c.projects,
		"profile":           c.profiles,
		"reset-data":        c.resetSources,
		"source":            c.backupSources,
		"level":             levels,
	}
	for name := range serviceFlags {
		byName[name] = c.services(name)
	}
	visitCommands(root, func(cmd *cobra.Command) {
		if cmd.ValidArgsFunction == nil && len(cmd.ValidArgs) == 0 {
			cmd.ValidArgsFunction = cobra.NoFileCompletions
			if backupIDCommands[cmd.Name()] && cmd.Parent() == root {
				cmd.ValidArgsFunction = c.backupIDs
			}
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			fn := byName[f.Name]
			if ch, ok := f.Value.(*choiceFlag); ok && fn == nil {
				fn = cobra.FixedCompletions(ch.choices, cobra.ShellCompDirectiveNoFileComp)
			}
			if fn == nil {
				fn = cobra.NoFileCompletions // also where the root's default is cobra's (file names)
			}
			_ = cmd.RegisterFlagCompletionFunc(f.Name, fn) // the flag exists: it was just visited
		})
	})
}

func visitCommands(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, sub := range cmd.Commands() {
		visitCommands(sub, fn)
	}
}

// The completions that need nothing but the file system (the shell lists it).
func yamlFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

func anyFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveDefault
}

func directories(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// levels completes --level with the levels of the codec --compression names: zstd 1..22,
// gzip 1..9 (0: the codec's default), none (no compression) none.
func levels(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	comp := api.Zstd
	if f := cmd.Flags().Lookup("compression"); f != nil {
		if c, err := api.ParseCompression(f.Value.String()); err == nil {
			comp = c
		}
	}
	max, notes := 0, map[int]string{}
	switch comp {
	case api.Zstd:
		max, notes = 22, map[int]string{0: "the default: 1", 1: "fastest", 3: "zstd's own default", 19: "zstd's highest normal level", 22: "smallest, slowest"}
	case api.Gzip:
		max, notes = 9, map[int]string{0: "the default: 1", 1: "fastest", 6: "gzip's own default", 9: "smallest, slowest"}
	default:
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for l := 0; l <= max; l++ {
		out = append(out, candidate(fmt.Sprint(l), notes[l]))
	}
	return withPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// completer completes what only the Service knows: projects, services, sources, backups.
type completer struct{ s *state }

// ctx is the context of a completion, bounded by completionTimeout.
func (c *completer) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, completionTimeout)
}

// describe asks the Service what the project's files and backup store say; nil when it
// could read nothing at all.
func (c *completer) describe(cmd *cobra.Command) *api.DescribeResult {
	ctx, cancel := c.ctx(cmd)
	defer cancel()
	res, _ := c.s.svc(cmd).Describe(ctx, api.DescribeOptions{Scope: c.scope()})
	return res // what it could read, also with an error (-p NAME without compose files here)
}

// scope is the global flags' scope. Cobra parses a completion's flags twice (once to
// count the arguments), so each repeatable flag holds every value twice: each is kept once.
func (c *completer) scope() api.Scope {
	sc := c.s.g.scope()
	sc.Files, sc.EnvFiles, sc.Profiles = uniqueStrings(sc.Files), uniqueStrings(sc.EnvFiles), uniqueStrings(sc.Profiles)
	return sc
}

// backupIDs completes a backup ID argument: the project's backups, newest first, with
// their time, reason and (when not complete) status as descriptions.
func (c *completer) backupIDs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if cmd.Args != nil && cmd.Args(cmd, append(append([]string{}, args...), toComplete)) != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp // no (more) ID argument
	}
	res := c.describe(cmd)
	if res == nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for _, b := range res.Backups {
		if strings.HasPrefix(b.ID, toComplete) && !slices.Contains(args, b.ID) {
			out = append(out, candidate(b.ID, backupNote(b)))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// backupNote is a backup's description: "2026-12-07 09:12:00 upgrade", and its status
// when it is not complete.
func backupNote(b api.BackupRow) string {
	var parts []string
	if !b.Time.IsZero() {
		parts = append(parts, b.Time.Local().Format("2006-01-02 15:04:05"))
	}
	if b.Reason != "" {
		parts = append(parts, b.Reason)
	}
	if b.Status != "" && b.Status != api.StatusComplete {
		parts = append(parts, string(b.Status))
	}
	return strings.Join(parts, " ")
}

// backupSources completes restore's --source: the sources of the backup the argument
// names, else of every backup (newest first, each name once).
func (c *completer) backupSources(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	res := c.describe(cmd)
	if res == nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []string
	for _, b := range res.Backups {
		if len(args) == 0 || b.ID == args[0] {
			names = append(names, b.Sources...)
		}
	}
	return withPrefix(uniqueStrings(names), toComplete), cobra.ShellCompDirectiveNoFileComp
}

// resetSources completes --reset-data: the project's volumes and bind-mounted directories.
func (c *completer) resetSources(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	res := c.describe(cmd)
	if res == nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return withPrefix(res.Sources, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// profiles completes --profile: the profiles the compose files' services name.
func (c *completer) profiles(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	res := c.describe(cmd)
	if res == nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return withPrefix(res.Profiles, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// services completes a flag that takes a service (serviceFlags): the compose files'
// services, as "SERVICE=" (no space after it) when the value goes on after the service.
func (c *completer) services(flag string) cobra.CompletionFunc {
	keyed := strings.Contains(serviceFlags[flag], "=")
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if keyed && strings.Contains(toComplete, "=") {
			return nil, cobra.ShellCompDirectiveNoFileComp // the value after SERVICE= is free
		}
		res := c.describe(cmd)
		if res == nil {
			return nil, cobra.ShellCompDirectiveError
		}
		out := withPrefix(res.Services, toComplete)
		if !keyed {
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		for i := range out {
			out[i] += "="
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// projects completes -p: the Compose projects on the engine (their directory as the
// description) and those docker-maim keeps state for on any engine.
func (c *completer) projects(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := c.ctx(cmd)
	defer cancel()
	svc := c.s.svc(cmd)
	dirs := map[string]string{}
	if res, err := svc.Projects(ctx, api.ProjectsOptions{}); err == nil {
		for _, p := range res.Projects {
			dirs[p.Name] = p.WorkingDir
		}
	}
	for _, name := range svc.KnownProjects() {
		if _, ok := dirs[name]; !ok {
			dirs[name] = ""
		}
	}
	names := make([]string, 0, len(dirs))
	for n := range dirs {
		if strings.HasPrefix(n, toComplete) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, candidate(n, dirs[n]))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// candidate is a value with its description (cobra's "VALUE\tDESCRIPTION").
func candidate(value, note string) string {
	if note == "" {
		return value
	}
	return value + "\t" + note
}

func withPrefix(values []string, prefix string) []string {
	out := []string{}
	for _, v := range values {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

func uniqueStrings(values []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// completionShells are the shells `completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// newCompletionCommand is `completion SHELL`: the completion script of the docker-maim
// binary run on its own (`docker-maim restore <TAB>`). `docker maim` needs none: the
// docker CLI's own completion script asks the plugin (`docker __complete maim ...`).
func newCompletionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script of the standalone docker-maim binary",
		Long: `Prints the completion script of docker-maim run on its own (` + "`docker-maim restore <TAB>`" + `).
` + "`docker maim`" + ` completes through the docker CLI's own completion (docker completion SHELL),
which asks the plugin; this script is only for the binary called by its own name.

  bash:       source <(docker-maim completion bash)
  zsh:        docker-maim completion zsh > "${fpath[1]}/_docker-maim"
  fish:       docker-maim completion fish > ~/.config/fish/completions/docker-maim.fish
  powershell: docker-maim completion powershell | Out-String | Invoke-Expression`,
		Example: `  docker-maim completion bash > /etc/bash_completion.d/docker-maim
  docker-maim completion zsh > "${fpath[1]}/_docker-maim"
  docker-maim completion fish > ~/.config/fish/completions/docker-maim.fish`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: completionShells,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The scripts name the program and call `docker-maim __complete ARGS...`, which
			// completeArgs turns into the plugin's `__complete maim ARGS...`.
			prog := &cobra.Command{Use: metadata.NamePrefix + "maim"}
			out := cmd.OutOrStdout()
			desc := os.Getenv("DOCKER_CLI_DISABLE_COMPLETION_DESCRIPTION") == ""
			switch args[0] {
			case "bash":
				return prog.GenBashCompletionV2(out, desc)
			case "zsh":
				if desc {
					return prog.GenZshCompletion(out)
				}
				return prog.GenZshCompletionNoDesc(out)
			case "fish":
				return prog.GenFishCompletion(out, desc)
			default:
				if desc {
					return prog.GenPowerShellCompletionWithDesc(out)
				}
				return prog.GenPowerShellCompletion(out)
			}
		},
	}
}

// completeArgs makes the standalone binary's completion request (`docker-maim __complete
// restore ARG`, which standaloneArgs has made `docker-maim maim __complete restore ARG`)
// the plugin's (`docker-maim __complete maim restore ARG`), as compose's standalone binary
// does.
func completeArgs(args []string) []string {
	if len(args) > 2 && args[1] == "maim" && (args[2] == cobra.ShellCompRequestCmd || args[2] == cobra.ShellCompNoDescRequestCmd) {
		return append([]string{args[0], args[2], "maim"}, args[3:]...)
	}
	return args
}
