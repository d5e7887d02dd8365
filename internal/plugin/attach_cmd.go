package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// detachFlag adds -d/--detach to a long operation (upgrade, restore, rollback).
func detachFlag(f *pflag.FlagSet, p *bool) {
	f.BoolVarP(p, "detach", "d", false, "Run in the background, detached from this terminal: print the operation ID once it holds the project; follow it with 'docker maim attach'")
}

// detaching tells whether a command asked for --detach should start its detached run
// here: not in the detached run itself (api.DetachedEnv), which does the work.
func detaching(asked bool) bool { return asked && os.Getenv(api.DetachedEnv) == "" }

// detach runs the command line again as a detached operation and prints its ID (or, with
// --format json, the api.DetachResult). A run that ended before it held the project
// (refused, a dry run, a bad compose file) is reported as if it had not been detached.
// stdinFiles are the command's file flags: "-" (stdin) cannot reach a detached run.
func (s *state) detach(cmd *cobra.Command, asJSON bool, stdinFiles ...[]string) error {
	for _, names := range stdinFiles {
		for _, n := range names {
			if n == "-" {
				return usageError{errors.New(`--detach cannot read a file from stdin ("-"): name the file`)}
			}
		}
	}
	res, err := s.svc(cmd).Detach(cmd.Context(), api.DetachOptions{Scope: s.g.scope(), Args: os.Args})
	if err != nil {
		return err
	}
	if !res.Running {
		return s.attach(cmd, res.ID)
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return printJSON(out, res, nil)
	}
	fmt.Fprintln(out, res.ID)
	fmt.Fprintf(cmd.ErrOrStderr(), "Detached: operation %s of project %s runs as process %d; follow it with 'docker maim -p %s attach %s'\n",
		res.ID, res.Project, res.PID, res.Project, res.ID)
	return nil
}

// exitStatus ends the process with a detached operation's exit code; its error line was
// already replayed from the operation's log, so nothing more is printed.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// attach follows operation id (empty: the project's newest), prints its result as it
// printed it, and ends with its exit code, as docker wait does.
func (s *state) attach(cmd *cobra.Command, id string) error {
	res, err := s.svc(cmd).Attach(cmd.Context(), api.AttachOptions{Scope: s.g.scope(), ID: id})
	if err != nil {
		return err
	}
	if _, err := cmd.OutOrStdout().Write(res.Output); err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return exitStatus{res.ExitCode}
	}
	return nil
}

func newAttachCommand(s *state) *cobra.Command {
	return &cobra.Command{
		Use:   "attach [OPTIONS] [OPERATION]",
		Short: "Follow a detached operation until it ends, with its exit code",
		Long: `Replays the progress lines (--progress json) of an operation started with --detach and
follows them until it ends, then prints its result as the operation printed it and exits with
its exit code, as 'docker wait' does. Without OPERATION, it follows the project's newest
operation, running or finished. Ctrl-C stops following; the operation goes on.`,
		Example: `  # Follow the project's newest operation (started by 'docker maim upgrade --detach')
  docker maim attach

  # Follow one operation by its ID
  docker maim attach 20261207T093500Z-1a2b3c`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return s.attach(cmd, id)
		},
	}
}

// endDetached writes the last line of a detached run's log (api.DetachedEnd) on stderr,
// which is the log; nothing outside a detached run.
func endDetached(code int) {
	id := os.Getenv(api.DetachedEnv)
	if id == "" {
		return
	}
	var e api.DetachedEnd
	e.End.ID, e.End.ExitCode = id, code
	b, _ := json.Marshal(e)
	os.Stderr.Write(append(b, '\n'))
}
