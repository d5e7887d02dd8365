package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/docker-maim/docker-maim/internal/clihooks"
	"github.com/docker/cli/cli-plugins/hooks"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli/config"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newHooksCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hooks COMMAND",
		Short: "Show docker-maim hints after docker compose pull and a failed docker compose up",
		Long: "hooks enable turns on the docker CLI's hooks (features.hooks) and asks it to call docker-maim\n" +
			"after `docker compose pull` (plugins.maim.hooks) and, on docker CLI 29.3 and later, after a\n" +
			"failed `docker compose up` (plugins.maim.error-hooks), in the docker CLI's config.json\n" +
			"($DOCKER_CONFIG or ~/.docker). hooks disable removes what enable added and puts\n" +
			"features.hooks back as it was before.",
		Example: "  docker maim hooks enable\n  docker maim hooks disable",
	}
	for _, enable := range []bool{true, false} {
		use := "disable"
		if enable {
			use = "enable"
		}
		cmd.AddCommand(&cobra.Command{
			Use:     use,
			Short:   strings.ToUpper(use[:1]) + use[1:] + " the docker CLI hooks of docker-maim",
			Example: "  docker maim hooks " + use,
			RunE: func(cmd *cobra.Command, args []string) error {
				return runHooksCommand(cmd, enable)
			},
		})
	}
	return cmd
}

// newHookAnswerCommand answers the docker CLI's hook call (`docker-maim maim
// docker-cli-plugin-hooks <request JSON>`) after a command configured in plugins.maim.hooks
// or plugins.maim.error-hooks (internal/clihooks). It never contacts the engine: it only looks
// for the project's state directory (Service.KnownProjects).
func newHookAnswerCommand(s *state) *cobra.Command {
	return &cobra.Command{
		Use:    metadata.HookSubcommandName,
		Hidden: true,
		Args:   cobra.MaximumNArgs(1),
		// No engine client: the root's PersistentPreRunE (which sets one up) does not run.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			var req hooks.Request
			if len(args) == 1 {
				_ = json.Unmarshal([]byte(args[0]), &req)
			}
			wd, _ := os.Getwd()
			return writeHookAnswer(cmd.OutOrStdout(), req, wd, s.svc(cmd).KnownProjects)
		},
	}
}

// hookHints are the lines for a hook request in dir, when docker-maim knows its project.
// The docker CLI prints them on the user's terminal after running them as a Go template,
// and the name comes from files and an environment docker-maim does not control (a cloned
// repository's compose file). So a hint names only a project in known's list, compared
// whole, and the name it prints is that entry of the state's listing: a compose-valid name
// (lower-case letters, digits, '-', '_'), which can hold no terminal escape and no "{{".
func hookHints(req hooks.Request, dir string, known func() []string) []string {
	name := hookProjectName(req, dir)
	if name == "" {
		return nil
	}
	names := known()
	i := slices.Index(names, name)
	if i < 0 {
		return nil
	}
	if name = names[i]; !validProjectName(name) {
		return nil
	}
	switch {
	case req.RootCmd == "compose pull" && req.CommandError == "":
		return []string{"Run `docker maim upgrade --dry-run` to see what upgrading " + name + " to the pulled images would change"}
	case req.RootCmd == "compose up" && req.CommandError != "":
		return []string{"Run `docker maim rollback` to put " + name + " back as it was before its last upgrade"}
	}
	return nil
}

func writeHookAnswer(w io.Writer, req hooks.Request, dir string, known func() []string) error {
	resp := hooks.Response{Type: hooks.NextSteps, Template: clihooks.HintTemplate(hookHints(req, dir, known))}
	return json.NewEncoder(w).Encode(resp)
}

// validProjectName is compose's rule for a project name: lower-case letters, digits, '-'
// and '_', starting with a letter or a digit (what loader.NormalizeProjectName leaves
// unchanged, and not empty).
func validProjectName(s string) bool {
	return s != "" && loader.NormalizeProjectName(s) == s
}

// hookProjectName is the project compose would use in dir, as compose-go's loader finds
// it: COMPOSE_PROJECT_NAME when it is a valid name (compose refuses any other), else the
// compose file's name: or the directory's name, normalized as compose does
// (NormalizeProjectName: lower-cased, every other character dropped). "" when the command
// named a project with -p or files with -f (the hook is told flag names, not their
// values), when the name: holds a variable (interpolated from an environment the hook
// does not have), or when nothing valid is left.
func hookProjectName(req hooks.Request, dir string) string {
	for _, f := range []string{"p", "project-name", "f", "file", "project-directory"} {
		if _, ok := req.Flags[f]; ok {
			return ""
		}
	}
	if n, ok := os.LookupEnv("COMPOSE_PROJECT_NAME"); ok && n != "" {
		if !validProjectName(n) {
			return ""
		}
		return n
	}
	if os.Getenv("COMPOSE_FILE") == "" {
		for _, f := range []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				continue
			}
			var top struct {
				Name string `yaml:"name"`
			}
			if yaml.Unmarshal(b, &top) == nil && top.Name != "" {
				if strings.Contains(top.Name, "$") {
					return ""
				}
				return loader.NormalizeProjectName(top.Name)
			}
			break
		}
	}
	return loader.NormalizeProjectName(filepath.Base(dir))
}

// runHooksCommand is hooks enable (enable true) or hooks disable on the docker CLI's
// config directory ($DOCKER_CONFIG or ~/.docker).
func runHooksCommand(cmd *cobra.Command, enable bool) error {
	dir := config.Dir()
	file := filepath.Join(dir, config.ConfigFileName)
	if !enable {
		if err := clihooks.Disable(dir); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "docker-maim hooks disabled in %s\n", file)
		return nil
	}
	v := clihooks.DockerCLIVersion(cmd.Context())
	if err := clihooks.Enable(dir, v); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "docker-maim hooks enabled in %s: %s\n", file, clihooks.Describe(v))
	return nil
}
