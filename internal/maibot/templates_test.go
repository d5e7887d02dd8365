package maibot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-maim/docker-maim/internal/config"
)

func TestTemplatePlans(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "docker-config", "mmc")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "bot_config.toml"), []byte("[inner]\nversion = \"6.4.6\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	services := []Service{
		{Name: "napcat", Image: "napcat", Mounts: []Mount{{Source: "/x", Target: "/app/napcat/config"}}},
		{Name: "core", Image: "sengokucola/maibot:0.11.0", Mounts: []Mount{
			{Source: cfg, Target: "/MaiMBot/config/"},
			{Source: filepath.Join(cfg, ".env"), Target: "/MaiMBot/.env"},
			{Source: filepath.Join(dir, "data"), Target: "/MaiMBot/data"},
		}},
	}
	plans := TemplatePlans(services)
	if len(plans) != 3 {
		t.Fatalf("plans: %+v", plans)
	}
	want := []struct {
		file, tmpl string
		action     config.Action
		format     config.Format
		vk         string
	}{
		{"bot_config.toml", "bot_config_template.toml", config.ActionMerge, config.TOML, "inner.version"},
		{"model_config.toml", "model_config_template.toml", config.ActionCopyTemplate, config.TOML, "inner.version"},
		{".env", "template.env", config.ActionCopyTemplate, config.Dotenv, ""},
	}
	for i, w := range want {
		p := plans[i]
		if p.File != filepath.Join(cfg, w.file) || p.Template.Path != "/MaiMBot/template/"+w.tmpl || p.Template.Image != "sengokucola/maibot:0.11.0" ||
			p.Action != w.action || p.Format != w.format || p.VersionKey != w.vk || !p.Optional || p.Service != "core" || p.Origin != "maibot" {
			t.Errorf("plan %d: %+v", i, p)
		}
	}
	// No config dir bound, no plans (the .env alone is no MaiBot core).
	if p := TemplatePlans([]Service{{Name: "x", Mounts: []Mount{{Source: "/e", Target: "/MaiMBot/.env"}}}}); len(p) != 0 {
		t.Errorf("without a config dir: %+v", p)
	}
}
