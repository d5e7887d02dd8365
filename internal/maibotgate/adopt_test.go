package maibotgate

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/maibot"
	"github.com/docker-maim/docker-maim/internal/project"
)

func mkProject(dir string, services ...types.ServiceConfig) *project.Project {
	p := &project.Project{Project: &types.Project{Name: "bot", WorkingDir: dir, Services: types.Services{}}}
	for _, s := range services {
		p.Services[s.Name] = s
	}
	return p
}

func svc(name, image string, env map[string]string, binds map[string]string) types.ServiceConfig {
	s := types.ServiceConfig{Name: name}
	s.Image, s.Environment = image, types.MappingWithEquals{}
	for k, v := range env {
		s.Environment[k] = &v
	}
	for target, src := range binds {
		s.Volumes = append(s.Volumes, types.ServiceVolumeConfig{Type: types.VolumeTypeBind, Source: src, Target: target})
	}
	return s
}

// An adoption from a 0.x deployment to a 1.x file is refused until the merged core confirms
// the move; the agreement the merged file lost is a warning; what the plan shows is filled in.
func TestCheckAdoption(t *testing.T) {
	dir := t.TempDir()
	old := mkProject(dir,
		svc("core", "example/maibot:0.10.0", map[string]string{maibot.EULAVar: "e", maibot.PrivacyVar: "p"}, nil),
		svc("adapters", "example/maimbot-adapter:0.4.0", nil, nil))
	newEnv := map[string]string{maibot.PrivacyVar: "p"}
	tag := func(ref string) string { return strings.TrimPrefix(ref, "example/maibot:") }

	mb, warnings, err := CheckAdoption(old, mkProject(dir, svc("core", "example/maibot:1.0.0", newEnv, nil)), map[string]string{"core": "1.0.0"}, tag)
	if err == nil || !strings.Contains(err.Error(), maibot.LegacyUpgradeVar) {
		t.Fatalf("unconfirmed 0.x -> 1.x: err %v, want a refusal naming %s", err, maibot.LegacyUpgradeVar)
	}
	if mb == nil || mb.Confirmed || mb.Core != "core" || mb.FromEra != maibot.Era0x || mb.ToEra != maibot.Era1x {
		t.Fatalf("move %+v, want core 0.x -> 1.x unconfirmed", mb)
	}
	if !mb.NoTemplates || mb.ReadyLog != maibot.ReadyLog || mb.DBSchema != -1 {
		t.Errorf("move %+v: want no templates, the ready log line, schema -1", mb)
	}
	if !slices.Equal(mb.LostAgreements, []string{maibot.EULAVar}) || !strings.Contains(strings.Join(warnings, "\n"), maibot.EULAVar+" was set") {
		t.Errorf("lost %v, warnings %q: want %s lost and warned about", mb.LostAgreements, warnings, maibot.EULAVar)
	}

	newEnv[maibot.LegacyUpgradeVar] = "1"
	confirmed := svc("core", "example/maibot:1.0.0", newEnv, nil)
	confirmed.HealthCheck = &types.HealthCheckConfig{Test: []string{"CMD", "true"}}
	mb, _, err = CheckAdoption(old, mkProject(dir, confirmed), map[string]string{}, tag)
	if err != nil || mb == nil || !mb.Confirmed {
		t.Fatalf("confirmed move: %+v, %v", mb, err)
	}
	if mb.ReadyLog != "" || mb.NoTemplates {
		t.Errorf("core with a healthcheck and no image change: move %+v, want no ready log, templates unknown", mb)
	}

	if mb, w, err := CheckAdoption(old, mkProject(dir, svc("web", "example/nginx:1.0", nil, nil)), nil, tag); mb != nil || w != nil || err != nil {
		t.Errorf("no MaiBot in the merged file: %+v, %q, %v; want nothing", mb, w, err)
	}
}

// The template layout's merges: binds made absolute against the project's dir, and only for
// versions that ship templates (0.x, or unknown).
func TestTemplatePlans(t *testing.T) {
	dir := t.TempDir()
	p := mkProject(dir, svc("core", "example/maibot:0.10.0", nil, map[string]string{maibot.ConfigDir: "./config", maibot.DataDir: "./data"}))
	images := map[string]string{"core": "example/maibot:0.11.0"}
	for version, want := range map[string]int{"0.11.0": 2, "": 2, "1.0.0": 0} {
		plans := TemplatePlans(p, images, map[string]string{"core": version})
		if len(plans) != want {
			t.Errorf("version %q: %d plans, want %d", version, len(plans), want)
			continue
		}
		for _, pl := range plans {
			if filepath.Dir(pl.File) != filepath.Join(dir, "config") || pl.Template.Image != images["core"] {
				t.Errorf("version %q: plan %s from %s, want under %s from the new image", version, pl.File, pl.Template.Image, filepath.Join(dir, "config"))
			}
		}
	}
}
