package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
)

// deadEngineCLI is a real docker CLI whose engine is a socket nobody listens on, with a
// config dir of its own holding configJSON (none when "").
func deadEngineCLI(t *testing.T, configJSON string) command.Cli {
	t.Helper()
	dir := t.TempDir()
	opts := flags.NewClientOptions()
	opts.ConfigDir = filepath.Join(dir, "config")
	if configJSON != "" {
		if err := os.MkdirAll(opts.ConfigDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(opts.ConfigDir, "config.json"), []byte(configJSON), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(dir, "nobody.sock"))
	cli, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Initialize(opts); err != nil {
		t.Fatal(err)
	}
	return cli
}

// Every verb that needs the engine fails with api.ErrEngine, naming where it looked, when
// the engine does not answer.
func TestUnreachableEngineIsErrEngine(t *testing.T) {
	svc := New(deadEngineCLI(t, ""), api.Config{Progress: "quiet"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := api.Scope{Name: "demo", BackupDir: t.TempDir()}
	calls := map[string]func() error{
		"status":   func() error { _, err := svc.Status(ctx, api.StatusOptions{Scope: sc}); return err },
		"projects": func() error { _, err := svc.Projects(ctx, api.ProjectsOptions{}); return err },
		"backups":  func() error { _, err := svc.Backups(ctx, api.BackupsOptions{Scope: sc}); return err },
		"verify":   func() error { _, err := svc.Verify(ctx, api.VerifyOptions{Scope: sc}); return err },
		"prune":    func() error { _, err := svc.Prune(ctx, api.PruneOptions{Scope: sc, DryRun: true}); return err },
	}
	for verb, call := range calls {
		err := call()
		if !errors.Is(err, api.ErrEngine) {
			t.Errorf("%s: %v, want api.ErrEngine", verb, err)
		} else if want := "nobody.sock"; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v does not name the endpoint", verb, err)
		}
	}
}
