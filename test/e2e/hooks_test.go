package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// TestHooksComposePullHint: with `docker maim hooks enable`, a real `docker compose pull`
// run through the docker CLI on PATH ends with docker-maim's "What's next" hint, but only
// in a project docker-maim knows (it has state for it); on a docker CLI with error-hooks
// (29.3+) a failed `docker compose up` ends with the rollback hint. `hooks disable` puts
// config.json back byte for byte (the user's features.hooks and another plugin's hooks
// kept), and no hint follows.
func TestHooksComposePullHint(t *testing.T) {
	hooksScenario(t, "docker")
}

// TestHooksOtherDockerCLI is TestHooksComposePullHint through the docker CLI binary
// MAIM_TEST_DOCKER_CLI names, to cover the other side of the 29.3 line than the CLI on
// PATH (e.g. one built from github.com/docker/cli's tag v29.7.2 with vendor.mod as go.mod:
// `go build -mod=vendor -ldflags "-X github.com/docker/cli/cli/version.Version=29.7.2"
// ./cmd/docker`). Skipped when it is not set.
func TestHooksOtherDockerCLI(t *testing.T) {
	bin := os.Getenv("MAIM_TEST_DOCKER_CLI")
	if bin == "" {
		t.Skip("MAIM_TEST_DOCKER_CLI (a docker CLI binary) is not set")
	}
	hooksScenario(t, bin)
}

// userDockerConfig is a config.json as the docker CLI writes it, with the hooks feature
// turned on by the user for another plugin.
const userDockerConfig = "{\n\t\"auths\": {},\n\t\"plugins\": {\n\t\t\"other\": {\n\t\t\t\"hooks\": \"image ls\"\n\t\t}\n\t},\n\t\"features\": {\n\t\t\"hooks\": \"true\"\n\t}\n}"

var cliVersionRE = regexp.MustCompile(`version (\d+)\.(\d+)`)

// hooksScenario runs the hooks test with the docker CLI bin: first on PATH (so the compose
// commands run through it too) and the CLI that runs docker-maim.
func hooksScenario(t *testing.T, bin string) {
	p := newProject(t, "hooks", "")
	p.WriteCompose("services:\n  bot:\n    image: " + p.Bot("1.0.0") + "\n")
	bin, err := exec.LookPath(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) (util-linux) for a terminal")
	}
	version, err := exec.Command(bin, "--version").Output()
	m := cliVersionRE.FindSubmatch(version)
	if err != nil || m == nil {
		t.Fatalf("%s --version: %v %q", bin, err, version)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	errorHooks := major > 29 || major == 29 && minor >= 3
	t.Logf("docker CLI %s: error-hooks %v", bytes.TrimSpace(version), errorHooks)

	// A DOCKER_CONFIG of the test's own with the plugins under test (docker-maim, compose),
	// and bin first on PATH as `docker`.
	root := t.TempDir()
	cfgDir, binDir := filepath.Join(root, "docker-config"), filepath.Join(root, "bin")
	for _, d := range []string{cfgDir, binDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dockerConfig, "cli-plugins"), filepath.Join(cfgDir, "cli-plugins")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(binDir, "docker")); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(cfgDir, "config.json")
	if err := os.WriteFile(cfgFile, []byte(userDockerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"DOCKER_CONFIG=" + cfgDir, "COMPOSE_PROJECT_NAME=" + p.Name,
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH")}
	// The docker CLI runs hooks only when its stdout is a terminal: script(1) gives it one.
	run := func(command string) (string, error) {
		t.Helper()
		cmd := exec.Command("script", "-qec", command, "/dev/null")
		cmd.Dir = p.Dir
		cmd.Env = maimEnvOf(t, backupDir(t), env)
		out, err := cmd.CombinedOutput()
		t.Logf("%s: %v\n%s", command, err, out)
		return string(out), err
	}
	pull := func() string {
		t.Helper()
		out, err := run("docker compose pull --quiet")
		if err != nil {
			t.Fatalf("docker compose pull: %v\n%s", err, out)
		}
		return out
	}
	const hint, rollbackHint = "docker maim upgrade --dry-run", "docker maim rollback"

	if out, err := run("docker maim hooks enable"); err != nil || !strings.Contains(out, "hooks enabled") {
		t.Fatalf("hooks enable: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(cfgFile)
	wantErrorHooks := `"error-hooks": "compose up"`
	if !strings.Contains(string(b), `"hooks": "compose pull"`) || strings.Contains(string(b), wantErrorHooks) != errorHooks ||
		!strings.Contains(string(b), `"hooks": "image ls"`) || !strings.Contains(string(b), `"hooks": "true"`) {
		t.Fatalf("hooks enable wrote (error-hooks expected: %v):\n%s", errorHooks, b)
	}

	if out := pull(); strings.Contains(out, hint) {
		t.Fatalf("a hint for a project docker-maim has never worked on:\n%s", out)
	}
	p.backup() // docker-maim now has state for the project
	if out := pull(); !strings.Contains(out, "What's next") || !strings.Contains(out, hint) {
		t.Fatalf("no hint after docker compose pull with hooks enabled:\n%s", out)
	}
	// A failed up (an image the registry does not have): the rollback hint on a CLI with
	// error-hooks; no hint before 29.3, where a failed plugin command runs no hooks.
	p.WriteCompose("services:\n  bot:\n    image: " + testrig.Registry() + "/" + p.Name + "/bot:no-such-tag\n")
	out, err := run("docker compose up -d")
	if err == nil {
		t.Fatalf("docker compose up with a missing image succeeded:\n%s", out)
	}
	if strings.Contains(out, rollbackHint) != errorHooks {
		t.Fatalf("after a failed up, the rollback hint shown: %v, want %v:\n%s", !errorHooks, errorHooks, out)
	}

	p.WriteCompose("services:\n  bot:\n    image: " + p.Bot("1.0.0") + "\n")
	if out, err := run("docker maim hooks disable"); err != nil {
		t.Fatalf("hooks disable: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(cfgFile); string(b) != userDockerConfig {
		t.Fatalf("hooks disable left\n%s\nwas\n%s", b, userDockerConfig)
	}
	if out := pull(); strings.Contains(out, hint) {
		t.Fatalf("a hint with hooks disabled:\n%s", out)
	}
}
