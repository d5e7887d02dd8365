package clihooks

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
)

var (
	cli28 = ParseDockerVersion("Docker version 28.2.2, build e6534b4")
	cli29 = ParseDockerVersion("Docker version 29.3.0, build 5927d80")
)

// userConfig writes dir/config.json as the docker CLI writes it (configfile.Save), with
// what a user's file holds: a login, a credential store, another plugin's hooks and
// features, features.hooks as hooksFeature says ("": absent).
func userConfig(t *testing.T, dir, hooksFeatureVal string) []byte {
	t.Helper()
	cfg := configfile.New(filepath.Join(dir, config.ConfigFileName))
	cfg.AuthConfigs["r.example:5000"] = types.AuthConfig{Username: "u", Password: "p"}
	cfg.CredentialsStore = "desktop"
	cfg.CurrentContext = "desktop-linux"
	cfg.Plugins["ai"] = map[string]string{"hooks": "build,run", "error-hooks": "compose up"}
	cfg.Features = map[string]string{"buildkit": "true"}
	if hooksFeatureVal != "" {
		cfg.Features["hooks"] = hooksFeatureVal
	}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg.Filename)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadCfg(t *testing.T, dir string) *configfile.ConfigFile {
	t.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestHooksEnableDisableRestores: hooks enable then hooks disable gives back config.json
// byte for byte, whatever features.hooks was (absent, on for other plugins, off), other
// plugins' hooks and the user's features kept while enabled; enabling twice (the CLI
// upgraded in between) keeps the first record of what was there.
func TestHooksEnableDisableRestores(t *testing.T) {
	for _, before := range []string{"", "true", "false"} {
		t.Run("features.hooks="+before, func(t *testing.T) {
			dir := t.TempDir()
			orig := userConfig(t, dir, before)
			if err := Enable(dir, cli28); err != nil {
				t.Fatal(err)
			}
			cfg := loadCfg(t, dir)
			if cfg.Features["hooks"] != "true" || cfg.Features["buildkit"] != "true" {
				t.Fatalf("features after enable: %v", cfg.Features)
			}
			if cfg.Plugins["maim"]["hooks"] != "compose pull" || cfg.Plugins["ai"]["hooks"] != "build,run" {
				t.Fatalf("plugins after enable: %v", cfg.Plugins)
			}
			if cfg.AuthConfigs["r.example:5000"].Password != "p" || cfg.CredentialsStore != "desktop" {
				t.Fatalf("enable lost the login: %+v", cfg)
			}
			if err := Enable(dir, cli29); err != nil { // again, on a newer CLI
				t.Fatal(err)
			}
			if err := Disable(dir); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); !bytes.Equal(got, orig) {
				t.Fatalf("enable+disable changed config.json:\n%s\nwas:\n%s", got, orig)
			}
			// Disabling again changes nothing (no record: features.hooks is not touched).
			if err := Disable(dir); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); !bytes.Equal(got, orig) {
				t.Fatalf("a second disable changed config.json:\n%s", got)
			}
		})
	}
}

// TestHooksDisableKeepsUserChanges: a features.hooks the user set while docker-maim's hooks
// were on is the user's, and a disable without docker-maim's record does not touch
// features.hooks (somebody else turned it on).
func TestHooksDisableKeepsUserChanges(t *testing.T) {
	dir := t.TempDir()
	userConfig(t, dir, "")
	if err := Enable(dir, cli29); err != nil {
		t.Fatal(err)
	}
	cfg := loadCfg(t, dir)
	cfg.Features["hooks"] = "false"
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	if err := Disable(dir); err != nil {
		t.Fatal(err)
	}
	if cfg := loadCfg(t, dir); cfg.Features["hooks"] != "false" || cfg.Plugins["maim"] != nil {
		t.Fatalf("after disable: features %v, plugins %v", cfg.Features, cfg.Plugins)
	}

	// An older docker-maim's hooks (no record): its settings go, features.hooks stays.
	dir = t.TempDir()
	userConfig(t, dir, "true")
	cfg = loadCfg(t, dir)
	cfg.Plugins["maim"] = map[string]string{"hooks": "compose pull,compose up"}
	if err := cfg.Save(); err != nil {
		t.Fatal(err)
	}
	if err := Disable(dir); err != nil {
		t.Fatal(err)
	}
	if cfg := loadCfg(t, dir); cfg.Features["hooks"] != "true" || cfg.Plugins["maim"] != nil {
		t.Fatalf("after disable without a record: features %v, plugins %v", cfg.Features, cfg.Plugins)
	}
}

// TestHooksNoConfigFile: enable creates config.json, disable removes it again; a disable
// with no file creates none.
func TestHooksNoConfigFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	file := filepath.Join(dir, "config.json")
	if err := Disable(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(file); !os.IsNotExist(err) {
		t.Fatalf("disable with no config.json made one: %v", err)
	}
	if err := Enable(dir, cli29); err != nil {
		t.Fatal(err)
	}
	if cfg := loadCfg(t, dir); cfg.Features["hooks"] != "true" || cfg.Plugins["maim"]["error-hooks"] != "compose up" {
		t.Fatalf("enable on no file: %+v", cfg)
	}
	if err := Disable(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(file); !os.IsNotExist(err) {
		b, _ := os.ReadFile(file)
		t.Fatalf("the config.json enable made is left: %v\n%s", err, b)
	}
}

// TestHooksSymlinkedConfig: a config.json that is a symlink (dotfiles kept in a repository)
// stays a symlink; the file it points to is the one changed, and put back byte for byte.
// Also with a member the docker CLI's ConfigFile does not know, which is kept.
func TestHooksSymlinkedConfig(t *testing.T) {
	for _, extra := range []bool{false, true} {
		root := t.TempDir()
		real, dir := filepath.Join(root, "dotfiles"), filepath.Join(root, "docker")
		for _, d := range []string{real, dir} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		orig := userConfig(t, real, "true")
		if extra {
			// The members after the known ones, in name order, as editConfig writes them.
			orig = append(bytes.TrimSuffix(orig, []byte("\n}")), ",\n\t\"experimental\": \"enabled\",\n\t\"zz\": {\n\t\t\"a\": [\n\t\t\t1\n\t\t]\n\t}\n}"...)
			if err := os.WriteFile(filepath.Join(real, "config.json"), orig, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		link := filepath.Join(dir, "config.json")
		if err := os.Symlink("../dotfiles/config.json", link); err != nil {
			t.Fatal(err)
		}
		if err := Enable(dir, cli29); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("extra %v: config.json is no longer a symlink: %v", extra, err)
		}
		if cfg := loadCfg(t, real); cfg.Plugins["maim"]["hooks"] != "compose pull" {
			t.Fatalf("extra %v: the symlink's target was not updated: %v", extra, cfg.Plugins)
		}
		if b, _ := os.ReadFile(link); extra && !strings.Contains(string(b), `"experimental": "enabled"`) {
			t.Fatalf("enable dropped a member the docker CLI does not know:\n%s", b)
		}
		if err := Disable(dir); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("extra %v: after disable config.json is no longer a symlink: %v", extra, err)
		}
		if got, _ := os.ReadFile(filepath.Join(real, "config.json")); !bytes.Equal(got, orig) {
			t.Fatalf("extra %v: enable+disable changed the target:\n%s\nwas:\n%s", extra, got, orig)
		}
		if ents, _ := os.ReadDir(real); len(ents) != 1 {
			t.Fatalf("extra %v: files left next to the target: %v", extra, ents)
		}
	}
}

// TestHookSettingsByCLIVersion: error-hooks on docker CLI 29.3+, only the pull hook on an
// older CLI (its compose commands run hooks only when they succeed), and both under
// "hooks" when the version is unknown.
func TestHookSettingsByCLIVersion(t *testing.T) {
	for _, c := range []struct {
		line              string
		known             bool
		hooks, errorHooks string
	}{
		{"Docker version 28.2.2, build e6534b4", true, "compose pull", ""},
		{"Docker version 20.10.24+dfsg1, build 297e128", true, "compose pull", ""},
		{"Docker version 29.2.1, build a5c7197", true, "compose pull", ""},
		{"Docker version 29.3.0, build 5927d80", true, "compose pull", "compose up"},
		{"Docker version 29.5.0-rc.1, build 1", true, "compose pull", "compose up"},
		{"Docker version 30.0.0, build 1", true, "compose pull", "compose up"},
		{"podman version 5.2.0", true, "compose pull", ""},
		{"not docker", false, "compose pull,compose up", ""},
		{"", false, "compose pull,compose up", ""},
	} {
		v := ParseDockerVersion(c.line)
		h, e := Settings(v)
		if v.known != c.known || h != c.hooks || e != c.errorHooks {
			t.Errorf("%q: known %v, hooks %q, error-hooks %q; want %v, %q, %q", c.line, v.known, h, e, c.known, c.hooks, c.errorHooks)
		}
	}
	dir := t.TempDir()
	if err := Enable(dir, cli28); err != nil {
		t.Fatal(err)
	}
	if own := loadCfg(t, dir).Plugins["maim"]; own["hooks"] != "compose pull" || own["error-hooks"] != "" {
		t.Fatalf("docker CLI 28: %v", own)
	}
	if err := Enable(dir, cli29); err != nil {
		t.Fatal(err)
	}
	if own := loadCfg(t, dir).Plugins["maim"]; own["hooks"] != "compose pull" || own["error-hooks"] != "compose up" {
		t.Fatalf("docker CLI 29.3: %v", own)
	}
	if err := Enable(dir, cli28); err != nil { // the CLI downgraded: no error-hooks left
		t.Fatal(err)
	}
	if own := loadCfg(t, dir).Plugins["maim"]; own["hooks"] != "compose pull" || own["error-hooks"] != "" {
		t.Fatalf("docker CLI 28 again: %v", own)
	}
}

// TestDockerCLIVersion: the version comes from the docker CLI that ran the plugin
// (metadata.ReexecEnvvar), here the real one on PATH; a path that does not run gives an
// unknown version.
func TestDockerCLIVersion(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker CLI on PATH")
	}
	out, err := exec.Command(docker, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(metadata.ReexecEnvvar, docker)
	v := DockerCLIVersion(t.Context())
	if !v.known || v.major < 20 || !strings.Contains(string(out), " "+v.text) {
		t.Fatalf("docker CLI version %+v from %q", v, out)
	}
	t.Setenv(metadata.ReexecEnvvar, filepath.Join(t.TempDir(), "no-docker"))
	if v := DockerCLIVersion(t.Context()); v.known {
		t.Fatalf("a CLI that does not run: %+v", v)
	}
}
