package plugin

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/cli/cli/config"
	"github.com/google/shlex"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commands is every command of a fresh tree, the root first, with its path below the
// root ("config merge").
func commands(t *testing.T) map[string]*cobra.Command {
	t.Helper()
	root, _ := newRoot(func(api.Config) api.Service { return &fake{} }, false)
	out := map[string]*cobra.Command{}
	var walk func(c *cobra.Command, path string)
	walk = func(c *cobra.Command, path string) {
		out[path] = c
		for _, sub := range c.Commands() {
			walk(sub, strings.TrimSpace(path+" "+sub.Name()))
		}
	}
	walk(root, "")
	if len(out) < 15 {
		t.Fatalf("only %d commands in the tree", len(out))
	}
	return out
}

// dockerConfigDir points the docker CLI's config dir (where hooks enable and disable
// write) at dir: its config package reads DOCKER_CONFIG once per process, so the test sets
// the dir itself, and puts back the one before when it ends.
func dockerConfigDir(t *testing.T, dir string) {
	before := config.Dir()
	config.SetDir(dir)
	t.Cleanup(func() { config.SetDir(before) })
}

// valueName is the rule for a value name: upper-case words, KEY=VALUE for a pair.
var valueName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*(=[A-Z][A-Z0-9_]*)?$`)

// TestFlagValueNames: every non-bool flag names its value deliberately, with pflag's
// backtick convention (one pair, an upper-case name: FILE, SOURCE, SERVICE=REF), never
// the value's Go type (string, stringArray, duration) pflag falls back to; a bool flag has
// no backtick, which pflag would print as its value name.
func TestFlagValueNames(t *testing.T) {
	seen := 0
	for path, c := range commands(t) {
		check := func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			seen++
			name, _ := pflag.UnquoteUsage(f)
			ticks := strings.Count(f.Usage, "`")
			switch {
			case f.Value.Type() == "bool":
				if ticks != 0 {
					t.Errorf("%q --%s: a bool flag's usage has backticks, which pflag shows as a value name %q: %q", path, f.Name, name, f.Usage)
				}
			case ticks != 2:
				t.Errorf("%q --%s: want exactly one backtick pair (its value name) in the usage, got %d backticks: %q", path, f.Name, ticks, f.Usage)
			case !valueName.MatchString(name):
				t.Errorf("%q --%s: value name %q is not an upper-case name (FILE, SERVICE=REF)", path, f.Name, name)
			}
		}
		c.LocalFlags().VisitAll(check)
	}
	if seen < 40 {
		t.Fatalf("checked only %d flags", seen)
	}
}

// help renders a command line's help as the user sees it: below a root named docker, as
// the docker CLI's plugin framework runs it.
func help(t *testing.T, args ...string) string {
	t.Helper()
	root, _ := newRoot(func(api.Config) api.Service { return &fake{} }, false)
	docker := &cobra.Command{Use: "docker", SilenceErrors: true, SilenceUsage: true}
	docker.AddCommand(root)
	var out bytes.Buffer
	docker.SetOut(&out)
	docker.SetErr(&out)
	docker.SetArgs(append(append([]string{"maim"}, args...), "--help"))
	if err := docker.Execute(); err != nil {
		t.Fatalf("%v --help: %v", args, err)
	}
	return out.String()
}

// TestHelpShowsValueNamesAndProjectOptionsOnce: the help the issue quoted now names
// values, and the project options appear in full only in the root's help; a command that
// uses them names them in one pointer line, one that does not (version) not at all.
func TestHelpShowsValueNamesAndProjectOptionsOnce(t *testing.T) {
	restore := help(t, "restore")
	for _, want := range []string{"--source SOURCE ", "--timeout DURATION ", "Examples:\n  # Restore", "Usage:  docker maim restore [OPTIONS] [ID]"} {
		if !strings.Contains(restore, want) {
			t.Errorf("restore --help lacks %q:\n%s", want, restore)
		}
	}
	upgrade := help(t, "upgrade")
	for _, want := range []string{"--image SERVICE=REF ", "--no-auto-rollback  ", "--compose-file FILE "} {
		if !strings.Contains(upgrade, want) {
			t.Errorf("upgrade --help lacks %q:\n%s", want, upgrade)
		}
	}
	for _, bad := range []string{" string ", " stringArray ", " duration ", " int "} {
		for _, h := range []string{restore, upgrade} {
			if strings.Contains(h, bad) {
				t.Errorf("help shows a type as a value name (%q):\n%s", bad, h)
			}
		}
	}
	root := help(t)
	projectFlags := []string{"--file FILE", "--project-name NAME", "--project-directory DIR", "--env-file FILE", "--profile PROFILE", "--backup-dir DIR", "--progress MODE"}
	for _, f := range projectFlags {
		if strings.Count(root, f) != 1 {
			t.Errorf("root help lists %q %d times, want once:\n%s", f, strings.Count(root, f), root)
		}
		name := strings.Fields(f)[0]
		for _, h := range []string{restore, upgrade} {
			if strings.Contains(h, name+" ") {
				t.Errorf("a command's help repeats the project option %s:\n%s", name, h)
			}
		}
	}
	// (compared with the white space normalized: the help wraps at the terminal's width)
	pointer := "Project Options: -f, -p, --project-directory, --env-file, --profile, --backup-dir, --progress (before or after the command): see 'docker maim --help'"
	if !strings.Contains(strings.Join(strings.Fields(restore), " "), pointer) {
		t.Errorf("restore --help does not point to the project options:\n%s", restore)
	}
	if v := help(t, "version"); strings.Contains(v, "Project Options") {
		t.Errorf("version --help points to project options it does not use:\n%s", v)
	}
	if strings.Contains(root, "-h, --help") || strings.Contains(restore, "--help ") {
		t.Errorf("the help flag is listed among the options:\n%s", root)
	}
}

// TestProjectOptionsParseForEveryCommand: listing the project options once changed only
// their presentation: every command still accepts each of them before and after its name,
// and they reach the service's scope.
func TestProjectOptionsParseForEveryCommand(t *testing.T) {
	dockerConfigDir(t, t.TempDir()) // hooks enable/disable write there
	extra := map[string][]string{"config merge": {"--template", "t.toml", "--current", "c.toml"}, "completion": {"bash"}, "schedule set": {"--at", "03:30"}}
	project := []string{"-f", "a.yaml", "-p", "proj", "--project-directory", "/w", "--env-file", "e", "--profile", "x", "--backup-dir", "/b", "--progress", "plain"}
	want := globalOptions{Files: []string{"a.yaml"}, Name: "proj", WorkingDir: "/w", EnvFiles: []string{"e"}, Profiles: []string{"x"}, BackupDir: "/b"}
	n := 0
	for path, c := range commands(t) {
		if c.Hidden || !c.Runnable() {
			continue
		}
		cmdArgs := append(strings.Fields(path), extra[path]...)
		for _, args := range [][]string{append(append([]string{}, project...), cmdArgs...), append(append([]string{}, cmdArgs...), project...)} {
			n++
			root, st := newRoot(func(api.Config) api.Service { return &fake{err: errors.New("fake")} }, false)
			st.args = args
			root.SetArgs(args)
			var out, errOut bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&errOut)
			code := st.finish(root.Execute(), &out, &errOut)
			got := st.g
			got.Progress = nil
			if code == ExitUsage || !equalOptions(got, want) || st.g.Progress.value != "plain" {
				t.Errorf("%v: exit %d, project options %+v (progress %s); %s", args, code, got, st.g.Progress.value, errOut.String())
			}
		}
	}
	if n < 28 {
		t.Fatalf("tried only %d command lines", n)
	}
}

func equalOptions(a, b globalOptions) bool {
	return strings.Join(a.Files, ",") == strings.Join(b.Files, ",") && a.Name == b.Name && a.WorkingDir == b.WorkingDir &&
		strings.Join(a.EnvFiles, ",") == strings.Join(b.EnvFiles, ",") && strings.Join(a.Profiles, ",") == strings.Join(b.Profiles, ",") && a.BackupDir == b.BackupDir
}

// TestUnknownSubcommandsAreUsageErrors: a word no command takes, after any command or
// command group, is an error with exit code 125 (docker's for bad usage), never help with
// exit 0; a group called alone still shows its help.
func TestUnknownSubcommandsAreUsageErrors(t *testing.T) {
	n := 0
	for path, c := range commands(t) {
		if c.Hidden {
			continue
		}
		args := append(strings.Fields(path), "no-such-command", "extra")
		f := &fake{}
		r := execute(t, f, args...)
		n++
		if r.code != ExitUsage || len(f.calls) > 0 || r.out != "" {
			t.Errorf("%v: exit %d (want %d), calls %v, stdout %q", args, r.code, ExitUsage, f.calls, r.out)
		}
		output := "format"
		if n := c.Annotations[outputFlagAnnotation]; n != "" {
			output = n
		}
		if c.Flags().Lookup(output) != nil {
			// asked for JSON, the usage error is a JSON document too (docs/json.md)
			r := execute(t, &fake{}, append(args, "--"+output, "json")...)
			if m := doc(t, r); r.code != ExitUsage || m["error"] == nil || m["error"].(map[string]any)["code"] != float64(ExitUsage) {
				t.Errorf("%v --format json: exit %d, %s", args, r.code, r.out)
			}
		}
		if c.HasSubCommands() {
			r := execute(t, &fake{}, strings.Fields(path)...)
			if r.code != 0 || !strings.Contains(r.out, "Commands:") {
				t.Errorf("%q alone: exit %d, no help: %q", path, r.code, r.out)
			}
		}
	}
	if n < 15 {
		t.Fatalf("tried only %d commands", n)
	}
}

// TestExamplesRun: every command has an Example section, and each of its command lines is
// a command line that parses: run against the fake service, it is never a usage error
// (exit 125), it runs the command whose example it is (or one below it), and the service
// call it makes (if any) is the command's.
func TestExamplesRun(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	dockerConfigDir(t, filepath.Join(dir, "docker-config"))
	// A user's docker config, written compactly: hooks enable and disable rewrite it in the
	// docker CLI's layout, and disable puts back what was there, so it is there whichever
	// ran last.
	userCfg := filepath.Join(dir, "docker-config", "config.json")
	if err := os.MkdirAll(filepath.Dir(userCfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(userCfg, []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"compose.new.yaml", "compose.old.yaml"} { // upgrade --compose-file reads them
		if err := os.WriteFile(f, []byte("services: {}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lines := 0
	for path, c := range commands(t) {
		if c.Hidden {
			continue
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example", path)
			continue
		}
		for _, line := range strings.Split(c.Example, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			words, err := shlex.Split(line)
			var args []string
			switch {
			case err != nil:
			case len(words) > 1 && words[0] == "docker" && words[1] == "maim":
				args = words[2:]
			case len(words) > 0 && words[0] == "docker-maim": // the binary run on its own
				args = words[1:]
			}
			if args == nil {
				t.Errorf("%q: example line %q is not a docker maim command line (%v)", path, line, err)
				continue
			}
			if i := slices.IndexFunc(args, func(w string) bool { return w != "" && strings.ContainsAny(w[:1], "|<>;&") }); i >= 0 {
				args = args[:i] // a redirection or a pipe ends the command line
			}
			lines++
			if path != "" && !strings.Contains(" "+strings.Join(args, " ")+" ", " "+path+" ") {
				t.Errorf("%q: example %q runs another command", path, line)
			}
			f := &fake{err: errors.New("fake")}
			r := execute(t, f, args...)
			if r.code == ExitUsage {
				t.Errorf("%q: example %q is a usage error: %s", path, line, r.errOut)
			}
			if len(f.calls) > 1 {
				t.Errorf("%q: example %q called %v", path, line, f.calls)
			}
		}
	}
	if lines < 25 {
		t.Fatalf("only %d example lines", lines)
	}
	if b, err := os.ReadFile(userCfg); err != nil || string(b) == `{"auths":{}}` {
		t.Errorf("the hooks examples did not write the test's docker config: %v %q", err, b)
	}
}
