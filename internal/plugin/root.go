// Package plugin holds the cobra commands of the docker-maim CLI plugin: it turns flags
// into option structs, calls the packages that do the work, and prints results. It owns
// the global compose-style flags, output formats and exit codes.
package plugin

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is set at build time (-ldflags -X).
var Version = "dev"

// Main runs the plugin and returns the process exit code.
func Main() int {
	if len(os.Args) > 1 && os.Args[1] == "__maim-helper" {
		// The in-container side of data moves: no docker CLI, no engine.
		return volume.HelperMain(os.Args[2:])
	}
	dockerCli, err := command.NewDockerCli()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return ExitError
	}
	root := NewRootCommand(dockerCli)
	err = plugin.RunPlugin(dockerCli, root, metadata.Metadata{
		SchemaVersion:    "0.1.0",
		Vendor:           "docker-maim",
		Version:          Version,
		ShortDescription: "Safe upgrades of Compose projects: backup, upgrade, verify, roll back",
		URL:              "https://github.com/docker-maim/docker-maim",
	})
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	fmt.Fprintln(dockerCli.Err(), "docker maim: "+errorLine(err))
	return code
}

// globalOptions are the compose-style flags every command accepts, before or after it.
type globalOptions struct {
	Files      []string
	Name       string
	WorkingDir string
	EnvFiles   []string
	Profiles   []string
	BackupDir  string
	Progress   string
}

// NewRootCommand builds the `maim` command tree.
func NewRootCommand(dockerCli command.Cli) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:              "maim [OPTIONS] COMMAND",
		Short:            "Back up, upgrade and roll back Docker Compose projects safely",
		SilenceUsage:     true,
		SilenceErrors:    true,
		TraverseChildren: true,
		Args:             cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// The plugin framework sets up the engine client here (contexts, -H, DOCKER_HOST).
			if err := plugin.PersistentPreRunE(cmd, args); err != nil {
				return err
			}
			ctx, _ := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			cmd.SetContext(ctx)
			return nil
		},
	}
	addGlobalFlags(root.PersistentFlags(), g)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{err}
	})

	e := &env{cli: dockerCli, g: g}
	root.AddCommand(
		newVersionCommand(e),
		newBackupCommand(e),
		newBackupsCommand(e),
		newVerifyCommand(e),
		newRestoreCommand(e),
		newUpgradeCommand(e),
		newRollbackCommand(e),
		newStatusCommand(e),
		newPruneCommand(e),
		NewConfigCommand(),
	)
	for _, c := range root.Commands() {
		if c.Args == nil {
			c.Args = cobra.NoArgs
		}
	}
	return root
}

func addGlobalFlags(fs *pflag.FlagSet, g *globalOptions) {
	fs.StringArrayVarP(&g.Files, "file", "f", nil, "Compose configuration files (repeatable; default: compose.yaml in the current dir, or COMPOSE_FILE)")
	fs.StringVarP(&g.Name, "project-name", "p", "", "Project name (or COMPOSE_PROJECT_NAME); alone, finds a project's files from its containers")
	fs.StringVar(&g.WorkingDir, "project-directory", "", "Alternate working directory (default: the first compose file's dir)")
	fs.StringArrayVar(&g.EnvFiles, "env-file", nil, "Alternate environment files")
	fs.StringArrayVar(&g.Profiles, "profile", nil, "Profiles to enable")
	fs.StringVar(&g.BackupDir, "backup-dir", "", "Where backups are kept (or MAIM_BACKUP_DIR; default ~/.local/share/docker-maim/backups)")
	fs.StringVar(&g.Progress, "progress", "auto", "Progress output: auto, tty, plain, json, quiet")
}

// usageError marks a flag or argument error (exit code 125, like docker).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }
