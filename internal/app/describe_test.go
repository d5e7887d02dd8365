package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
)

// Describe reads a project from its compose files and its backups from the store with the
// engine dead: services (disabled ones too), profiles, the sources --reset-data can empty,
// and every backup newest first, without writing a thing.
func TestDescribeWithoutEngine(t *testing.T) {
	dir := t.TempDir()
	compose := `services:
  bot:
    image: example/bot:1
    volumes: [data:/data, ./conf:/conf, ./settings.toml:/etc/settings.toml]
  db:
    image: example/db:1
    profiles: [extra]
volumes:
  data: {}
`
	for name, content := range map[string]string{"compose.yaml": compose, "settings.toml": "a = 1\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	backups := filepath.Join(t.TempDir(), "backups")
	store := backup.Local(backups)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	old := commitBackup(t, store, at, "old", nil)
	recent := commitBackup(t, store, at.Add(time.Hour), "recent", nil)
	t.Setenv("COMPOSE_PROJECT_NAME", "")
	t.Setenv("COMPOSE_FILE", "")

	s := New(deadEngineCLI(t, ""), api.Config{Err: &discard{}})
	res, err := s.Describe(context.Background(), api.DescribeOptions{Scope: api.Scope{
		Files: []string{filepath.Join(dir, "compose.yaml")}, Name: "demo", BackupDir: backups}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Project != "demo" || !reflect.DeepEqual(res.Services, []string{"bot", "db"}) || !reflect.DeepEqual(res.Profiles, []string{"extra"}) ||
		!reflect.DeepEqual(res.Sources, []string{"data", "./conf"}) {
		t.Errorf("project: %+v", res)
	}
	if len(res.Backups) != 2 || res.Backups[0].ID != recent || res.Backups[1].ID != old || res.Backups[0].Reason != "manual" ||
		!reflect.DeepEqual(res.Backups[0].Sources, []string{"data"}) || res.Backups[0].Owner != "" {
		t.Errorf("backups: %+v", res.Backups)
	}
	if _, err := os.Stat(filepath.Join(dir, "conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Describe created the bind source: %v", err)
	}

	// -p NAME with no compose file here: the load fails, the backups of NAME are listed.
	t.Chdir(t.TempDir())
	res, err = s.Describe(context.Background(), api.DescribeOptions{Scope: api.Scope{Name: "demo", BackupDir: backups}})
	if err == nil || res == nil || res.Project != "demo" || len(res.Backups) != 2 || len(res.Services) != 0 {
		t.Errorf("-p alone: %+v, %v", res, err)
	}
	// nothing names a project: nothing to list, and an error saying why.
	res, err = s.Describe(context.Background(), api.DescribeOptions{Scope: api.Scope{BackupDir: backups}})
	if err == nil || res == nil || res.Project != "" || len(res.Backups) != 0 {
		t.Errorf("no project: %+v, %v", res, err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
