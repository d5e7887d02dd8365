package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBot compiles the bot with the given version into a temp dir.
func buildBot(t *testing.T, ver string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bot")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+ver, "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

type sandbox struct{ root, config, template, data, health string }

func newSandbox(t *testing.T, tmplVersion string) sandbox {
	t.Helper()
	root := t.TempDir()
	s := sandbox{
		root:     root,
		config:   filepath.Join(root, "config", "bot_config.toml"),
		template: filepath.Join(root, "template", "bot_config_template.toml"),
		data:     filepath.Join(root, "data"),
		health:   filepath.Join(root, "tmp", "healthy"),
	}
	tmpl, err := os.ReadFile(filepath.Join("templates", tmplVersion+".toml"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(s.template), 0o755)
	if err := os.WriteFile(s.template, tmpl, 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s sandbox) cmd(bin string, env []string, args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	c.Env = append([]string{"BOT_CONFIG=" + s.config, "BOT_TEMPLATE=" + s.template,
		"BOT_DATA=" + s.data, "BOT_HEALTH_FILE=" + s.health}, env...)
	return c
}

// start runs the bot until it prints want (or exits); it returns the process and its output so far.
func (s sandbox) start(t *testing.T, bin string, env []string, want string) (*exec.Cmd, []string) {
	t.Helper()
	c := s.cmd(bin, env)
	pr, pw, _ := os.Pipe()
	c.Stdout, c.Stderr = pw, pw
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { c.Process.Kill(); c.Wait(); pr.Close() })
	var lines []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), want) {
			return c, lines
		}
	}
	t.Fatalf("bot never printed %q; output:\n%s", want, strings.Join(lines, "\n"))
	return nil, nil
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestLifecycle(t *testing.T) {
	v1, v2 := buildBot(t, "1.0.0"), buildBot(t, "2.0.0")
	s := newSandbox(t, "1.0.0")

	// First start: config from template, data schema 1, ready, healthy, SIGTERM -> exit 0.
	c, _ := s.start(t, v1, nil, "bot ready version=1.0.0")
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatalf("config not created from template: %v", err)
	}
	tmpl, _ := os.ReadFile(s.template)
	if string(cfg) != string(tmpl) {
		t.Fatal("config is not a copy of the template")
	}
	deadline := time.Now().Add(5 * time.Second)
	for exitCode(s.cmd(v1, nil, "healthcheck").Run()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("healthcheck never passed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if exitCode(err) != 0 {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("bot ignored SIGTERM")
	}
	var d dataFile
	b, _ := os.ReadFile(filepath.Join(s.data, "data.json"))
	if err := json.Unmarshal(b, &d); err != nil || d.Schema != 1 {
		t.Fatalf("data.json after v1: %s (%v)", b, err)
	}
	var eff effective
	b, _ = os.ReadFile(filepath.Join(s.data, "effective.json"))
	if err := json.Unmarshal(b, &eff); err != nil || eff.Version != "1.0.0" || eff.InnerVersion != "1.0.0" {
		t.Fatalf("effective.json: %s (%v)", b, err)
	}
	if got := eff.Config["bot"].(map[string]any)["nickname"]; got != "麦麦" {
		t.Fatalf("nickname = %v", got)
	}

	// v2 migrates the data to schema 2.
	c, _ = s.start(t, v2, nil, "bot ready version=2.0.0")
	c.Process.Signal(syscall.SIGTERM)
	c.Wait()
	b, _ = os.ReadFile(filepath.Join(s.data, "data.json"))
	if err := json.Unmarshal(b, &d); err != nil || d.Schema != 2 || len(d.Migrations) != 1 {
		t.Fatalf("data.json after v2: %s (%v)", b, err)
	}

	// v1 refuses schema-2 data with exit 3.
	out, err := s.cmd(v1, nil).CombinedOutput()
	if exitCode(err) != exitSchema || !strings.Contains(string(out), "refusing to start") {
		t.Fatalf("v1 on schema-2 data: exit %d, output:\n%s", exitCode(err), out)
	}
	starts, _ := os.ReadFile(filepath.Join(s.data, "starts.log"))
	if n := strings.Count(string(starts), "\n"); n != 2 {
		t.Fatalf("starts.log has %d lines, want 2:\n%s", n, starts)
	}
}

func TestFailSwitches(t *testing.T) {
	v1 := buildBot(t, "1.0.0")

	s := newSandbox(t, "1.0.0")
	out, err := s.cmd(v1, []string{"BOT_FAIL=crash"}).CombinedOutput()
	if exitCode(err) != exitCrash {
		t.Fatalf("crash: exit %d\n%s", exitCode(err), out)
	}
	if _, err := os.Stat(filepath.Join(s.data, "data.json")); err == nil {
		t.Fatal("crash must fail before touching data")
	}

	// fail from the config file, not env.
	s = newSandbox(t, "1.0.0")
	os.MkdirAll(filepath.Dir(s.config), 0o755)
	tmpl, _ := os.ReadFile(s.template)
	os.WriteFile(s.config, []byte(strings.Replace(string(tmpl), `fail = ""`, `fail = "crash-late"`, 1)), 0o644)
	out, err = s.cmd(v1, nil).CombinedOutput()
	if exitCode(err) != exitCrash || !strings.Contains(string(out), "crash-late") {
		t.Fatalf("crash-late from config: exit %d\n%s", exitCode(err), out)
	}
	if _, err := os.Stat(filepath.Join(s.data, "data.json")); err != nil {
		t.Fatal("crash-late must write data first")
	}

	s = newSandbox(t, "1.0.0")
	c, _ := s.start(t, v1, []string{"BOT_FAIL=unhealthy"}, "bot ready")
	time.Sleep(1500 * time.Millisecond)
	if exitCode(s.cmd(v1, nil, "healthcheck").Run()) == 0 {
		t.Fatal("unhealthy bot passed its healthcheck")
	}
	c.Process.Signal(syscall.SIGTERM)
	c.Wait()

	s = newSandbox(t, "1.0.0")
	t0 := time.Now()
	c, _ = s.start(t, v1, []string{"BOT_FAIL=slow", "BOT_SLOW_SECONDS=2"}, "bot ready")
	if el := time.Since(t0); el < 2*time.Second {
		t.Fatalf("slow bot ready after %s", el)
	}
	c.Process.Signal(syscall.SIGTERM)
	c.Wait()

	s = newSandbox(t, "1.0.0")
	c, _ = s.start(t, v1, []string{"BOT_FAIL=crash-after", "BOT_CRASH_AFTER=1"}, "bot ready")
	t0 = time.Now()
	if err := c.Wait(); exitCode(err) != exitCrash {
		t.Fatalf("crash-after: %v", err)
	}
	if el := time.Since(t0); el < 500*time.Millisecond {
		t.Fatalf("crash-after exited after %s", el)
	}

	// BOT_FAIL_ON limits BOT_FAIL to the listed versions.
	s = newSandbox(t, "1.0.0")
	c, _ = s.start(t, v1, []string{"BOT_FAIL=crash", "BOT_FAIL_ON=2.0.0, 3.0.0"}, "bot ready")
	c.Process.Signal(syscall.SIGTERM)
	if err := c.Wait(); exitCode(err) != exitOK {
		t.Fatalf("BOT_FAIL_ON=2.0.0 applied to 1.0.0: %v", err)
	}
	out, err = s.cmd(v1, []string{"BOT_FAIL=crash", "BOT_FAIL_ON=2.0.0,1.0.0"}).CombinedOutput()
	if exitCode(err) != exitCrash {
		t.Fatalf("BOT_FAIL_ON=2.0.0,1.0.0 on 1.0.0: exit %d\n%s", exitCode(err), out)
	}

	out, err = s.cmd(v1, []string{"BOT_FAIL=bogus"}).CombinedOutput()
	if exitCode(err) != exitConfig {
		t.Fatalf("bogus fail mode: exit %d\n%s", exitCode(err), out)
	}
}

func TestPrintConfigChangesNothing(t *testing.T) {
	v2 := buildBot(t, "2.0.0")
	s := newSandbox(t, "2.0.0")
	out, err := s.cmd(v2, nil, "print-config").Output()
	if err != nil {
		t.Fatal(err)
	}
	var eff effective
	if err := json.Unmarshal(out, &eff); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if eff.InnerVersion != "2.0.0" || eff.Config["memory"] == nil || eff.Schema != 2 {
		t.Fatalf("print-config: %s", out)
	}
	if _, err := os.Stat(s.config); err == nil {
		t.Fatal("print-config created the config")
	}
	if _, err := os.Stat(s.data); err == nil {
		t.Fatal("print-config created the data dir")
	}
}

func TestTemplatesDiffer(t *testing.T) {
	load := func(v string) map[string]any {
		b, err := os.ReadFile(filepath.Join("templates", v+".toml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "麦麦") {
			t.Fatalf("template %s lost its Chinese comments", v)
		}
		m, err := parseTOML(b)
		if err != nil {
			t.Fatalf("template %s: %v", v, err)
		}
		if innerVersion(m) != v {
			t.Fatalf("template %s has [inner].version %q", v, innerVersion(m))
		}
		return m
	}
	v1, v2 := load("1.0.0"), load("2.0.0")
	load("1.1.0")
	if _, ok := v1["chat"].(map[string]any)["ban_words"]; !ok {
		t.Fatal("v1 lacks chat.ban_words")
	}
	if _, ok := v2["chat"].(map[string]any)["ban_words"]; ok {
		t.Fatal("v2 still has chat.ban_words")
	}
	if _, ok := v2["bot"].(map[string]any)["platform"]; !ok {
		t.Fatal("v2 lacks bot.platform")
	}
	if _, ok := v2["memory"]; !ok {
		t.Fatal("v2 lacks [memory]")
	}
	if re := v1["chat"].(map[string]any)["ban_msgs_regex"].([]any); re[0] != `^\d+$` {
		t.Fatalf("regex = %q", re[0])
	}
}
