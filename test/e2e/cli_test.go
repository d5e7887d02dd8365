package e2e

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// onlyLine checks that stderr is exactly one line.
func onlyLine(t testing.TB, r Result) {
	t.Helper()
	if s := strings.TrimRight(r.Stderr, "\n"); s == "" || strings.Contains(s, "\n") {
		t.Errorf("want exactly one error line on stderr: %s", r)
	}
}

func TestPluginHelp(t *testing.T) {
	t.Parallel()
	r := mustOK(t, maim(t, t.TempDir(), "--help"))
	for _, cmd := range []string{"backup", "backups", "verify", "restore", "version"} {
		if !regexp.MustCompile(`(?m)^\s+` + cmd + `\s`).MatchString(r.Stdout) {
			t.Errorf("`docker maim --help` does not list the command %s:\n%s", cmd, r.Stdout)
		}
	}
	for _, flag := range []string{"--file", "--project-name", "--project-directory", "--env-file", "--profile", "--backup-dir", "--progress"} {
		if !strings.Contains(r.Stdout, flag) {
			t.Errorf("`docker maim --help` does not list the global flag %s", flag)
		}
	}
	if !strings.Contains(r.Stdout, "docker maim") {
		t.Errorf("usage does not read `docker maim`:\n%s", r.Stdout)
	}

	// docker's own help lists the plugin with its short description.
	r = mustOK(t, docker(t, t.TempDir(), nil, "--help"))
	if !regexp.MustCompile(`(?m)^\s+maim\*?\s+\S`).MatchString(r.Stdout) {
		t.Errorf("`docker --help` does not list maim:\n%s", r.Stdout)
	}

	// an unknown command is a usage error, not help with exit 0.
	r = maim(t, t.TempDir(), "no-such-command")
	if r.Code == 0 {
		t.Errorf("unknown subcommand exited 0: %s", r)
	}
}

func TestPluginVersion(t *testing.T) {
	t.Parallel()
	r := mustOK(t, maim(t, t.TempDir(), "version"))
	if !strings.Contains(r.Stdout, "docker-maim version "+TestVersion) {
		t.Fatalf("`docker maim version` does not print the version of the binary under test (%s): %s", TestVersion, r)
	}
	// version needs no engine: start-up makes no engine calls.
	r = mustOK(t, docker(t, t.TempDir(), []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "maim", "version"))
	if !strings.Contains(r.Stdout, TestVersion) {
		t.Fatalf("version without an engine: %s", r)
	}
}

func TestPluginMetadata(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(pluginBin, "docker-cli-plugin-metadata").Output()
	if err != nil {
		t.Fatalf("docker-maim docker-cli-plugin-metadata: %v", err)
	}
	var md struct {
		SchemaVersion    string
		Vendor           string
		Version          string
		ShortDescription string
	}
	if err := json.Unmarshal(out, &md); err != nil {
		t.Fatalf("metadata is not JSON: %v\n%s", err, out)
	}
	if md.SchemaVersion != "0.1.0" {
		t.Errorf("SchemaVersion %q, want 0.1.0 (older CLIs accept only that)", md.SchemaVersion)
	}
	if md.Vendor == "" || md.ShortDescription == "" {
		t.Errorf("metadata lacks Vendor or ShortDescription: %s", out)
	}
	if md.Version != TestVersion {
		t.Errorf("metadata Version %q, want %q", md.Version, TestVersion)
	}
}

func TestEngineUnreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"compose.yaml": "services:\n  a:\n    image: busybox\n"})
	for _, args := range [][]string{{"backup"}, {"backups"}, {"verify"}, {"restore"}} {
		r := docker(t, dir, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, append([]string{"maim"}, args...)...)
		wantFail(t, r, 5, "/nonexistent/docker.sock")
		onlyLine(t, r)
		if !strings.Contains(strings.ToLower(r.Stderr), "unreachable") {
			t.Errorf("%v: the error does not say the engine is unreachable: %s", args, r)
		}
	}
	// -H, a docker global flag before the plugin name, is honoured the same way.
	r := docker(t, dir, nil, "-H", "unix:///nonexistent/other.sock", "maim", "backups")
	wantFail(t, r, 5, "/nonexistent/other.sock")
}

func TestDockerContextHonoured(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	dir := t.TempDir()
	ctxName := "maimtest-ctx-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	mustOK(t, docker(t, dir, nil, "context", "create", ctxName, "--docker", "host=unix:///nonexistent/ctx.sock"))
	t.Cleanup(func() { docker(t, dir, nil, "context", "rm", "-f", ctxName) })
	writeTree(t, dir, map[string]string{"compose.yaml": "services:\n  a:\n    image: busybox\n"})

	r := docker(t, dir, nil, "--context", ctxName, "maim", "backups")
	wantFail(t, r, 5, "/nonexistent/ctx.sock")
	r = docker(t, dir, []string{"DOCKER_CONTEXT=" + ctxName}, "maim", "backups")
	wantFail(t, r, 5, "/nonexistent/ctx.sock")
	// and the default context reaches the engine: an empty list, exit 0.
	r = mustOK(t, docker(t, dir, nil, "--context", "default", "maim", "backups", "--format", "json"))
	if rows := parseRows(t, r); len(rows) != 0 {
		t.Fatalf("unexpected backups: %+v", rows)
	}
}
