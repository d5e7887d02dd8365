package plugin

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/plantext"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/spf13/cobra"
)

func newProjectsCommand(s *state) *cobra.Command {
	var format *choiceFlag
	var quiet *bool
	cmd := &cobra.Command{
		Use:   "projects [OPTIONS]",
		Short: "List the Compose projects on the engine",
		Example: `  docker maim projects
  docker maim projects --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := s.svc(cmd).Projects(cmd.Context(), api.ProjectsOptions{})
			out := cmd.OutOrStdout()
			if format.json() && !*quiet {
				return printJSON(out, res, err)
			}
			if err != nil {
				return err
			}
			if done, err := listed(cmd, format, *quiet, projectRows(res.Projects)); done {
				return err
			}
			printProjects(out, res)
			return nil
		},
	}
	format = formatFlag(cmd.Flags(), formatTable)
	quiet = quietFlag(cmd, "Only display project names")
	return cmd
}

func printProjects(w io.Writer, res *api.ProjectsResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tSERVICES\tRUNNING\tKNOWN\tDIRECTORY")
	for _, p := range res.Projects {
		known := "-"
		if p.Known {
			known = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", p.Name, shortList(p.Services, 4), p.Running, p.Containers, known, plantext.OrDash(p.WorkingDir))
	}
	tw.Flush()
}

// standaloneArgs lets the binary run as a program of its own (Docker Desktop runs an
// extension's host binary directly: `docker-maim status --format json`), not only as a
// docker CLI plugin, which the CLI always runs as `docker-maim maim ...`: any other first
// argument gets the plugin's name put in front of it, as the CLI would. Run by the docker
// CLI (it sets metadata.ReexecEnvvar), the arguments are the CLI's own, global flags first
// (`docker --context X maim ...`): they are left as they are.
func standaloneArgs(args []string) []string {
	if len(args) < 2 || os.Getenv(metadata.ReexecEnvvar) != "" {
		return args
	}
	switch args[1] {
	case "maim", metadata.MetadataSubcommandName, metadata.HookSubcommandName:
		return args
	}
	return append([]string{args[0], "maim"}, args[1:]...)
}
