//go:build linux || darwin

package maibotgate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/maibot"
	"github.com/docker-maim/docker-maim/internal/project"
	"golang.org/x/sys/unix"
)

// The version probe runs while the bot is stopped, over dirs the bot's container writes: a
// FIFO in place of MaiBot.db and a symlink in place of bot_config.toml (leading to a file
// outside the project) are unknown versions with a warning, read at once, never a hang and
// never the linked file's version.
func TestMaiBotVersionsRefusesFIFOAndLink(t *testing.T) {
	dir := t.TempDir()
	data, conf := filepath.Join(dir, "data"), filepath.Join(dir, "config")
	for _, d := range []string{data, conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(data, maibot.DatabaseFile), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "bot_config.toml")
	if err := os.WriteFile(outside, []byte("[inner]\nversion = \"9.9.9\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(conf, maibot.BotConfig)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, maibot.ModelConfig), []byte("[inner]\nversion = \"1.1.0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	core := types.ServiceConfig{Name: "core"}
	core.Image = "example/maibot:1.0.0"
	core.Volumes = []types.ServiceVolumeConfig{
		{Type: types.VolumeTypeBind, Source: data, Target: maibot.DataDir},
		{Type: types.VolumeTypeBind, Source: conf, Target: maibot.ConfigDir},
	}
	p := &project.Project{Project: &types.Project{Name: "bot", WorkingDir: dir, Services: types.Services{"core": core}}}

	type result struct {
		db       int32
		configs  map[string]string
		warnings []string
	}
	done := make(chan result, 1)
	go func() {
		_, db, configs, warnings := Versions(p)
		done <- result{db, configs, warnings}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute): // a safety net only
		t.Fatal("the version probe blocked on the FIFO")
	}
	if r.db != -1 {
		t.Errorf("database schema %d from a FIFO, want -1 (unknown)", r.db)
	}
	if v, ok := r.configs[maibot.BotConfig]; ok {
		t.Errorf("bot_config.toml version %q read through a symlink", v)
	}
	if r.configs[maibot.ModelConfig] != "1.1.0" {
		t.Errorf("model_config.toml version %q, want 1.1.0", r.configs[maibot.ModelConfig])
	}
	joined := strings.Join(r.warnings, "\n")
	if len(r.warnings) != 2 || !strings.Contains(joined, maibot.DatabaseFile) || !strings.Contains(joined, maibot.BotConfig) {
		t.Errorf("warnings %q, want one for each of %s and %s", r.warnings, maibot.DatabaseFile, maibot.BotConfig)
	}
}
