package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlansFromExtension(t *testing.T) {
	base := t.TempDir()
	if err := os.WriteFile(filepath.Join(base, "app.toml"), []byte("a = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ext := map[string]any{
		"configs": []any{
			map[string]any{
				"file":        "./app.toml",
				"template":    map[string]any{"path": "/etc/app/app.toml.tmpl"},
				"version_key": "meta.version",
			},
			map[string]any{
				"file":     "conf/.env",
				"template": map[string]any{"host_path": "templates/template.env"},
			},
			map[string]any{
				"file":     "/abs/settings",
				"format":   "yml",
				"template": map[string]any{"service": "web", "path": "/srv/settings.yaml"},
			},
		},
		"health": "owned by someone else",
	}
	plans, err := PlansFromExtension(ext, ExtensionOptions{Service: "core", BaseDir: base, Images: map[string]string{"core": "bot:2", "web": "web:2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 3 {
		t.Fatalf("%d plans", len(plans))
	}
	p := plans[0]
	if p.File != filepath.Join(base, "app.toml") || p.Format != TOML || p.VersionKey != "meta.version" || p.Action != ActionMerge ||
		p.Template != (TemplateSource{Service: "core", Image: "bot:2", Path: "/etc/app/app.toml.tmpl"}) || p.Optional || p.Origin != "x-maim" {
		t.Errorf("plan 0: %+v", p)
	}
	p = plans[1]
	if p.Format != Dotenv || p.Action != ActionCopyTemplate || p.Template.HostPath != filepath.Join(base, "templates/template.env") {
		t.Errorf("plan 1: %+v", p)
	}
	p = plans[2]
	if p.File != "/abs/settings" || p.Format != YAML || p.Template.Image != "web:2" {
		t.Errorf("plan 2: %+v", p)
	}

	for name, bad := range map[string]any{
		"not a map":       []any{1},
		"typo":            map[string]any{"configs": []any{map[string]any{"file": "a.toml", "templat": map[string]any{}}}},
		"no file":         map[string]any{"configs": []any{map[string]any{"template": map[string]any{"host_path": "x"}}}},
		"both sources":    map[string]any{"configs": []any{map[string]any{"file": "a.toml", "template": map[string]any{"host_path": "x", "path": "/y"}}}},
		"relative path":   map[string]any{"configs": []any{map[string]any{"file": "a.toml", "template": map[string]any{"path": "y"}}}},
		"unknown service": map[string]any{"configs": []any{map[string]any{"file": "a.toml", "template": map[string]any{"service": "nope", "path": "/y"}}}},
		"unknown format":  map[string]any{"configs": []any{map[string]any{"file": "a.conf", "template": map[string]any{"host_path": "x"}}}},
		"bad format":      map[string]any{"configs": []any{map[string]any{"file": "a.toml", "format": "ini", "template": map[string]any{"host_path": "x"}}}},
	} {
		if _, err := PlansFromExtension(bad, ExtensionOptions{Service: "core", Images: map[string]string{"core": "i"}}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Project level: a template in an image needs its service.
	if _, err := PlansFromExtension(map[string]any{"configs": []any{map[string]any{"file": "a.toml", "template": map[string]any{"path": "/y"}}}}, ExtensionOptions{}); err == nil ||
		!strings.Contains(err.Error(), "service") {
		t.Errorf("project level without service: %v", err)
	}
}

// Prepare, on the plans MaiBot's layout gives (maibot.TemplatePlans, tested there) with
// host templates (the image path is exercised in internal/templates' engine test).
func TestPrepare(t *testing.T) {
	tdir := maibotTemplates(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "docker-config", "mmc")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	user := userBotConfig(t, "0.10.0-alpha")
	if err := os.WriteFile(filepath.Join(cfg, "bot_config.toml"), []byte(user), 0o600); err != nil {
		t.Fatal(err)
	}
	plan := func(file, tmpl string, f Format, vk string) Plan {
		return Plan{File: filepath.Join(cfg, file), Service: "core", Format: f, VersionKey: vk, Optional: true, Origin: "maibot",
			Template: TemplateSource{HostPath: filepath.Join(tdir, "0.11.0-beta", tmpl)}, Action: ActionFor(filepath.Join(cfg, file))}
	}
	plans := []Plan{
		plan("bot_config.toml", "bot_config_template.toml", TOML, maibotVersionKey),
		plan("model_config.toml", "model_config_template.toml", TOML, maibotVersionKey),
		plan(".env", "template.env", Dotenv, ""),
	}
	if plans[0].Action != ActionMerge || plans[1].Action != ActionCopyTemplate || plans[2].Action != ActionCopyTemplate {
		t.Errorf("ActionFor: %s %s %s", plans[0].Action, plans[1].Action, plans[2].Action)
	}
	res, err := Prepare(context.Background(), nil, plans[0], false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed() || res.Report.Action != "merge" || string(res.Current) != user || res.Report.Version.To != "6.19.1" {
		t.Errorf("bot_config result: %+v", res.Report)
	}
	checkCarried(t, res.Template, res.Current, res.Merged, []string{maibotVersionKey}, false)
	if err := ApplyFile(plans[0].File, res.Merged); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(plans[0].File); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	res, err = Prepare(context.Background(), nil, plans[2], false)
	if err != nil || res.Report.Action != "copy-template" || res.Current != nil || string(res.Merged) != string(res.Template) || !res.Changed() {
		t.Errorf("copy template: %v %+v", err, res)
	}
	// An optional plan whose template is missing is skipped; a declared one fails.
	missing := plans[1]
	missing.Template.HostPath = filepath.Join(dir, "nope.toml")
	if res, err := Prepare(context.Background(), nil, missing, false); err != nil || res.Skipped == "" || res.Changed() {
		t.Errorf("optional missing: %v %+v", err, res)
	}
	missing.Optional = false
	if _, err := Prepare(context.Background(), nil, missing, false); !errors.Is(err, ErrTemplateNotFound) {
		t.Errorf("declared missing: %v", err)
	}
	// A directory where the file should be (Docker made it) is an error.
	if err := os.Mkdir(filepath.Join(cfg, ".env"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(context.Background(), nil, plans[2], false); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	// A broken current file stops Prepare with a positioned error; nothing is written.
	if err := os.WriteFile(plans[0].File, []byte("[bot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var pe *ParseError
	if _, err := Prepare(context.Background(), nil, plans[0], false); !errors.As(err, &pe) || pe.File != plans[0].File || pe.Line != 1 {
		t.Errorf("broken current: %v", err)
	}
}
