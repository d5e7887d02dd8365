package plugin

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/cli/cli-plugins/hooks"
	"github.com/docker/cli/cli-plugins/metadata"
)

func TestHookHints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My.Bot")
	_ = os.MkdirAll(dir, 0o755)
	t.Setenv("COMPOSE_PROJECT_NAME", "")
	t.Setenv("COMPOSE_FILE", "")
	known := func() []string { return []string{"mybot", "named"} }
	answer := func(req hooks.Request) string {
		var b bytes.Buffer
		if err := writeHookAnswer(&b, req, dir, known); err != nil {
			t.Fatal(err)
		}
		var r hooks.Response
		if err := json.Unmarshal(b.Bytes(), &r); err != nil || r.Type != hooks.NextSteps {
			t.Fatalf("answer %q: %v", b.String(), err)
		}
		return r.Template
	}
	if got := answer(hooks.Request{RootCmd: "compose pull"}); !strings.Contains(got, "docker maim upgrade --dry-run") {
		t.Fatalf("pull in a known project: %q", got)
	}
	if got := answer(hooks.Request{RootCmd: "compose up"}); got != "" {
		t.Fatalf("a successful up: %q", got)
	}
	if got := answer(hooks.Request{RootCmd: "compose up", CommandError: "exit 1"}); !strings.Contains(got, "docker maim rollback") {
		t.Fatalf("a failed up: %q", got)
	}
	if got := answer(hooks.Request{RootCmd: "compose pull", Flags: map[string]string{"p": ""}}); got != "" {
		t.Fatalf("-p given (value unknown): %q", got)
	}
	_ = os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("name: other\nservices: {}\n"), 0o644)
	if got := answer(hooks.Request{RootCmd: "compose pull"}); got != "" {
		t.Fatalf("an unknown project: %q", got)
	}
	_ = os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("name: named\nservices: {}\n"), 0o644)
	if got := answer(hooks.Request{RootCmd: "compose pull"}); got == "" {
		t.Fatal("the compose file's name: is not used")
	}
}

// TestHookHintsUntrustedNames: the project name comes from a file of a cloned repository
// (name:) or the environment, and the docker CLI prints the hint as a template on the
// user's terminal. Only a compose-valid name that docker-maim's state lists exactly gets a
// hint: no terminal escape (OSC 52 clipboard writes, OSC 8 links), no template action, no
// path that walks out of the state directory ("x/../../.." matched every project).
func TestHookHintsUntrustedNames(t *testing.T) {
	// The projects the state lists (Service.KnownProjects: directory names, never a path
	// joined from a name).
	known := func() []string { return []string{"named", "other"} }
	dir := filepath.Join(t.TempDir(), "repo")
	_ = os.MkdirAll(dir, 0o755)
	t.Setenv("COMPOSE_FILE", "")
	answer := func(env, name string) string {
		t.Helper()
		t.Setenv("COMPOSE_PROJECT_NAME", env)
		_ = os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("name: "+name+"\nservices: {}\n"), 0o644)
		var b bytes.Buffer
		if err := writeHookAnswer(&b, hooks.Request{RootCmd: "compose pull"}, dir, known); err != nil {
			t.Fatal(err)
		}
		var r hooks.Response
		if err := json.Unmarshal(b.Bytes(), &r); err != nil {
			t.Fatalf("answer %q: %v", b.String(), err)
		}
		if strings.ContainsAny(r.Template, "\x1b\x07{}") {
			t.Errorf("name %q / env %q: the hint carries escapes or template syntax: %q", name, env, r.Template)
		}
		return r.Template
	}
	for _, c := range []struct {
		env, name string
		hint      bool
	}{
		{"", "named", true},                         // a valid name the state knows
		{"", "unknown", false},                      // valid, not known
		{"", `"x/../../.."`, false},                 // compose makes it "x": not known (was: every name known)
		{"x/../../..", "named", false},              // compose refuses it: no hint
		{"named/../other", "named", false},          // refused by compose, though both parts are known
		{"Named", "named", false},                   // compose refuses an upper-case COMPOSE_PROJECT_NAME
		{"", "Named", true},                         // compose lower-cases a file's name: (NormalizeProjectName): "named"
		{"", `"\e]52;c;bmFtZWQ=\a"`, false},         // OSC 52 clipboard write: compose makes it "52cbmfzzwq"
		{"", `"na\e]8;;http://x\e\\med"`, false},    // OSC 8 link around a known name: "na8httpxmed"
		{"\x1b]52;c;eA==\x07named", "named", false}, // the environment's name is refused, not cleaned
		{"", `"\e]52;c;eA==\a/../../.."`, false},    // a clipboard write that walked out of the state dir
		{"", `"{{flagValue \"p\"}}named"`, false},   // a template action: "flagvaluepnamed"
	} {
		got := answer(c.env, c.name)
		if c.hint != (got != "") {
			t.Errorf("name %q / env %q: hint %q, want a hint: %v", c.name, c.env, got, c.hint)
		}
		if c.hint && !strings.Contains(got, " named ") {
			t.Errorf("name %q: the hint does not name the project: %q", c.name, got)
		}
	}
}

func TestStandaloneArgs(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"docker-maim", "status", "--format", "json"}, []string{"docker-maim", "maim", "status", "--format", "json"}},
		{[]string{"docker-maim", "maim", "status"}, []string{"docker-maim", "maim", "status"}},
		{[]string{"docker-maim", "docker-cli-plugin-metadata"}, []string{"docker-maim", "docker-cli-plugin-metadata"}},
		{[]string{"docker-maim"}, []string{"docker-maim"}},
	} {
		if got := standaloneArgs(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("standaloneArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Run by the docker CLI, global flags come first: `docker --context X maim backups`.
	t.Setenv(metadata.ReexecEnvvar, "/usr/local/bin/docker")
	in := []string{"docker-maim", "--context", "x", "maim", "backups"}
	if got := standaloneArgs(in); !reflect.DeepEqual(got, in) {
		t.Errorf("run by the docker CLI: standaloneArgs(%q) = %q", in, got)
	}
}
