// Package plugin holds the cobra commands of the docker-maim CLI plugin: it parses flags
// into the option types of internal/api, calls an api.Service, and prints the result
// as text or as JSON (--format json, docs/json.md). It owns the global compose-style
// flags, the validation of every flag value (before the service is called), output
// formats and exit codes (exit.go). Of docker-maim it imports only internal/api: the
// service (internal/app's, wired by cmd/docker-maim through Main) holds the engine and
// compose clients and everything below them.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is set at build time (-ldflags -X).
var Version = "dev"

// NewService builds the Service the commands call, on the engine and settings of a
// docker CLI (its context, DOCKER_HOST, config file for registry auth). It must not
// contact the engine: the service does that on the first verb that needs it. The
// implementation is internal/app's New, wired by cmd/docker-maim.
type NewService func(dockerCli command.Cli, cfg api.Config) api.Service

// Main runs the plugin on the services newService builds and returns the process exit
// code.
func Main(newService NewService) int {
	if len(os.Args) > 1 && os.Args[1] == "__helpers" {
		// Hidden: the helpers this build embeds (platform, size, sha256), one a line; for
		// the build's own checks (test/e2e). No docker CLI, no engine.
		for _, h := range newService(nil, api.Config{}).Helpers() {
			fmt.Printf("%s %d %s\n", h.Platform, h.Size, h.SHA256)
		}
		return 0
	}
	os.Args = completeArgs(standaloneArgs(os.Args))
	dockerCli, err := command.NewDockerCli()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return ExitError
	}
	root, st := newRoot(func(cfg api.Config) api.Service {
		cfg.Err = dockerCli.Err()
		return newService(dockerCli, cfg)
	}, true)
	st.args = os.Args[1:]
	err = plugin.RunPlugin(dockerCli, root, metadata.Metadata{
		SchemaVersion:    "0.1.0",
		Vendor:           "docker-maim",
		Version:          Version,
		ShortDescription: "Safe upgrades of Compose projects: backup, upgrade, verify, roll back",
		URL:              "https://github.com/docker-maim/docker-maim",
	})
	code := st.finish(err, dockerCli.Out(), dockerCli.Err())
	endDetached(code)
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
	Remote     api.RemoteOptions
	Progress   *choiceFlag
}

func (g *globalOptions) scope() api.Scope {
	return api.Scope{Files: g.Files, Name: g.Name, WorkingDir: g.WorkingDir, EnvFiles: g.EnvFiles, Profiles: g.Profiles, BackupDir: g.BackupDir, Remote: g.Remote}
}

// state is what the commands of one run share: the global flags, the service (built on
// first use, after the flags are parsed), and the output format of the command that ran.
type state struct {
	g          globalOptions
	newService func(api.Config) api.Service
	service    api.Service
	format     string
	args       []string     // the command line after the plugin name, to find the output format after a flag error
	signal     atomic.Value // the os.Signal that cancelled the command, if one did
}

// onSignals returns ctx cancelled by the first SIGINT, SIGTERM or SIGHUP, remembering which
// (for the exit code); later ones are caught and ignored, so the cleanup the cancellation
// starts (helpers stopped and removed, a safety backup put back) is not cut short. SIGHUP is
// what a dropped SSH session or a closed terminal sends: without a handler it would kill the
// process as kill -9 does, with no cleanup.
func (s *state) onSignals(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		select {
		case sig := <-sigs:
			s.signal.Store(sig)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

// svc returns the service, built once with the parsed global flags.
func (s *state) svc(cmd *cobra.Command) api.Service {
	if s.service == nil {
		if os.Getenv(api.DetachedEnv) != "" {
			s.g.Progress.value = "json" // a detached run's log holds the --progress json lines
		}
		s.service = s.newService(api.Config{Progress: s.g.Progress.value, Err: cmd.ErrOrStderr(), ToolVersion: Version})
	}
	return s.service
}

// outputFlagAnnotation names the flag holding a command's output format when it is not
// --format (config merge: --report).
const outputFlagAnnotation = "maim-output-flag"

// record remembers the output format of the command about to run (or whose flags failed).
// After a flag error the output flag may not be parsed yet: the command line says it.
func (s *state) record(cmd *cobra.Command, flagErr bool) {
	name := "format"
	if n, ok := cmd.Annotations[outputFlagAnnotation]; ok {
		name = n
	}
	f := cmd.Flags().Lookup(name)
	if f == nil {
		return
	}
	s.format = f.Value.String()
	if flagErr && !f.Changed {
		for i, a := range s.args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				s.format = v
			} else if a == "--"+name && i+1 < len(s.args) {
				s.format = s.args[i+1]
			}
		}
	}
}

// finish reports the error of a run and returns the exit code: the error's line on
// stderr and, when the command was asked for JSON, a JSON document with "error" on
// stdout (unless the command already wrote it in its own document).
func (s *state) finish(err error, stdout, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var es exitStatus
	if errors.As(err, &es) {
		return es.code
	}
	code := exitCode(err)
	if sig, _ := s.signal.Load().(os.Signal); code == ExitCancelled && sig == syscall.SIGHUP {
		code = ExitHangup // 128 + SIGHUP, as a shell reports a command the hangup ended
	}
	fmt.Fprintln(stderr, "docker maim: "+errorLine(err))
	var rep reportedError
	if s.format == formatJSON && !errors.As(err, &rep) {
		_ = writeDoc(stdout, nil, err)
	}
	return code
}

// NewRootCommand builds the `maim` command tree on the services newService builds on the
// engine and settings of dockerCli.
func NewRootCommand(dockerCli command.Cli, newService NewService) *cobra.Command {
	root, _ := newRoot(func(cfg api.Config) api.Service {
		cfg.Err = dockerCli.Err()
		return newService(dockerCli, cfg)
	}, true)
	return root
}

// newRoot builds the command tree on the services newService builds; asPlugin sets up
// the engine client the way docker CLI plugins do (off in unit tests).
func newRoot(newService func(api.Config) api.Service, asPlugin bool) (*cobra.Command, *state) {
	s := &state{newService: newService}
	root := &cobra.Command{
		Use:   "maim [OPTIONS] COMMAND",
		Short: "Back up, upgrade and roll back Docker Compose projects safely",
		Long: `Back up, upgrade and roll back Docker Compose projects safely.

The project options select the Compose project as docker compose's do (and COMPOSE_FILE,
COMPOSE_PROJECT_NAME); they go before or after the command. Without them, the project is the
one in the current directory.`,
		Example: `  # See what upgrading the project in the current directory would change
  docker maim upgrade --dry-run

  # Upgrade it: back up, pull, recreate, health gate, roll back on failure
  docker maim upgrade

  # The same for a project found by name, from any directory
  docker maim -p mybot upgrade`,
		SilenceUsage:     true,
		SilenceErrors:    true,
		TraverseChildren: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			s.record(cmd, false)
			// The plugin framework sets up the engine client here (contexts, -H, DOCKER_HOST).
			if asPlugin {
				if err := plugin.PersistentPreRunE(cmd, args); err != nil {
					return err
				}
			}
			cmd.SetContext(s.onSignals(cmd.Context()))
			return nil
		},
	}
	addGlobalFlags(root.PersistentFlags(), &s.g)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		s.record(c, true)
		return usageError{err}
	})

	root.AddCommand(
		newVersionCommand(),
		remoteFlags(newBackupCommand(s), &s.g),
		remoteFlags(newBackupsCommand(s), &s.g),
		remoteFlags(newVerifyCommand(s), &s.g),
		remoteFlags(newRestoreCommand(s), &s.g),
		remoteFlags(newUpgradeCommand(s), &s.g),
		remoteFlags(newRollbackCommand(s), &s.g),
		newStatusCommand(s),
		remoteFlags(newPruneCommand(s), &s.g),
		newScheduleCommand(s),
		newConfigCommand(s),
		newProjectsCommand(s),
		newAttachCommand(s),
		newHooksCommand(),
		newHookAnswerCommand(s),
	)
	registerCompletions(root, s) // adds the completion command: before finishTree, which sets up every command
	finishTree(root, s)
	return root, s
}

func addGlobalFlags(fs *pflag.FlagSet, g *globalOptions) {
	// A usage's `NAME` is the flag's value name in the help (pflag's convention).
	fs.StringArrayVarP(&g.Files, "file", "f", nil, "Compose configuration `FILE` (repeatable; default: compose.yaml in the current dir, or COMPOSE_FILE)")
	fs.StringVarP(&g.Name, "project-name", "p", "", "Project `NAME` (or COMPOSE_PROJECT_NAME); alone, finds a project's files from its containers")
	fs.StringVar(&g.WorkingDir, "project-directory", "", "Alternate working directory `DIR` (default: the first compose file's dir)")
	fs.StringArrayVar(&g.EnvFiles, "env-file", nil, "Alternate environment `FILE` (repeatable)")
	fs.StringArrayVar(&g.Profiles, "profile", nil, "`PROFILE` to enable (repeatable)")
	fs.StringVar(&g.BackupDir, "backup-dir", "", "`DIR` where backups are kept (or MAIM_BACKUP_DIR; default ~/.local/share/docker-maim/backups)")
	g.Progress = newChoice("auto", "auto", "tty", "plain", "json", "quiet")
	fs.Var(g.Progress, "progress", "Progress output `MODE`: auto, tty, plain, json, quiet")
}

// remoteFlags adds --remote and --require-remote to a command that writes or reads
// backups; they go into the scope as the project options do.
func remoteFlags(cmd *cobra.Command, g *globalOptions) *cobra.Command {
	f := cmd.Flags()
	f.StringVar(&g.Remote.URL, "remote", "", "Copy every backup to `URL` and read from it when the local copy is gone: s3://BUCKET/PREFIX, file:///PATH or /PATH (or MAIM_REMOTE)")
	f.BoolVar(&g.Remote.Require, "require-remote", false, "Refuse before anything stops when the remote cannot be written; an upgrade waits for the copy")
	return cmd
}

// usageError marks a flag or argument error (exit code 125, like docker).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }
