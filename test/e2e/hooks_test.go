package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHooksComposePullHint: with `docker maim hooks enable`, a real `docker compose pull`
// run through the docker CLI ends with docker-maim's "What's next" hint, but only in a
// project docker-maim knows (it has state for it); after `hooks disable`, nothing.
func TestHooksComposePullHint(t *testing.T) {
	p := newProject(t, "hooks", "")
	p.WriteCompose("services:\n  bot:\n    image: " + p.Bot("1.0.0") + "\n")

	// A DOCKER_CONFIG of the test's own with the plugins under test (docker-maim, compose).
	cfgDir := filepath.Join(t.TempDir(), "docker-config")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dockerConfig, "cli-plugins"), filepath.Join(cfgDir, "cli-plugins")); err != nil {
		t.Fatal(err)
	}
	env := []string{"DOCKER_CONFIG=" + cfgDir, "COMPOSE_PROJECT_NAME=" + p.Name}
	const hint = "docker maim upgrade --dry-run"
	// The docker CLI runs hooks only when its stdout is a terminal: script(1) gives it one.
	pull := func() string {
		t.Helper()
		if _, err := exec.LookPath("script"); err != nil {
			t.Skip("needs script(1) (util-linux) for a terminal")
		}
		cmd := exec.Command("script", "-qec", "docker compose pull --quiet", "/dev/null")
		cmd.Dir = p.Dir
		cmd.Env = maimEnvOf(t, backupDir(t), env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker compose pull: %v\n%s", err, out)
		}
		return string(out)
	}

	mustOK(t, docker(t, p.Dir, env, "maim", "hooks", "enable"))
	var cfg struct {
		Features map[string]string            `json:"features"`
		Plugins  map[string]map[string]string `json:"plugins"`
	}
	b, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatalf("config.json after enable: %v\n%s", err, b)
	}
	if cfg.Features["hooks"] != "true" || cfg.Plugins["maim"]["hooks"] != "compose pull,compose up" {
		t.Fatalf("hooks enable wrote %s", b)
	}

	if out := pull(); strings.Contains(out, hint) {
		t.Fatalf("a hint for a project docker-maim has never worked on:\n%s", out)
	}
	p.backup() // docker-maim now has state for the project
	out := pull()
	if !strings.Contains(out, "What's next") || !strings.Contains(out, hint) {
		t.Fatalf("no hint after docker compose pull with hooks enabled:\n%s", out)
	}

	mustOK(t, docker(t, p.Dir, env, "maim", "hooks", "disable"))
	if b, _ := os.ReadFile(filepath.Join(cfgDir, "config.json")); strings.Contains(string(b), "hooks") {
		t.Fatalf("hooks disable left %s", b)
	}
	if out := pull(); strings.Contains(out, hint) {
		t.Fatalf("a hint with hooks disabled:\n%s", out)
	}
}
