package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/maibot"
)

// MergeConfig needs no engine: the service is usable without a docker CLI for it.
func TestMergeConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tmpl := write("template.toml", "[inner]\nversion = \"2.0.0\"\n\n[bot]\nname = \"x\"\nnew = 1\n")
	cur := write("current.toml", "[inner]\nversion = \"1.0.0\"\n\n[bot]\nname = \"mine\"\n")
	svc := New(nil, api.Config{})
	ctx := context.Background()

	// nil VersionKeys: TOML's default, inner.version comes from the template
	res, err := svc.MergeConfig(ctx, api.MergeConfigOptions{Template: tmpl, Current: cur})
	if err != nil {
		t.Fatal(err)
	}
	if m := string(res.Merged); !strings.Contains(m, `version = "2.0.0"`) || !strings.Contains(m, `name = "mine"`) || !strings.Contains(m, "new = 1") {
		t.Errorf("merged:\n%s", m)
	}
	if res.Report.Version == nil || res.Report.Version.Key != "inner.version" {
		t.Errorf("report version: %+v", res.Report.Version)
	}
	// an empty VersionKeys: none, the user's version stays
	res, err = svc.MergeConfig(ctx, api.MergeConfigOptions{Template: tmpl, Current: cur, VersionKeys: []string{}})
	if err != nil || !strings.Contains(string(res.Merged), `version = "1.0.0"`) {
		t.Errorf("no version keys: %v\n%s", err, res.Merged)
	}
	// Output: written atomically, and the result says where
	out := filepath.Join(dir, "out.toml")
	if res, err = svc.MergeConfig(ctx, api.MergeConfigOptions{Template: tmpl, Current: cur, Output: out}); err != nil || res.Output != out {
		t.Fatalf("output: %v %+v", err, res)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "new = 1") {
		t.Errorf("output file:\n%s", b)
	}
	// a current file without a telling name takes the template's format
	plain := write("current", "A=1\n")
	if res, err := svc.MergeConfig(ctx, api.MergeConfigOptions{Template: write("t.env", "A=2\nB=3\n"), Current: plain}); err != nil || !strings.Contains(string(res.Merged), "B=3") {
		t.Errorf("format from the template's name: %v %+v", err, res)
	}
	// a format it cannot tell is a usage error
	var ue *api.UsageError
	if _, err := svc.MergeConfig(ctx, api.MergeConfigOptions{Template: write("a.conf", ""), Current: write("b.conf", "")}); !errors.As(err, &ue) {
		t.Errorf("unknown format: %v", err)
	}
}

// The MaiBot values api states for faces (the plan's text) are internal/maibot's.
func TestMaiBotValuesAgree(t *testing.T) {
	for _, c := range [][2]string{
		{api.MaiBotEra0x, maibot.Era0x}, {api.MaiBotEra1x, maibot.Era1x}, {api.MaiBotLegacyUpgradeVar, maibot.LegacyUpgradeVar},
	} {
		if c[0] != c[1] {
			t.Errorf("api says %q, internal/maibot %q", c[0], c[1])
		}
	}
}

// A bad --exclude pattern is a usage error before anything else: the service has no docker
// CLI here, so reaching the engine would panic.
func TestBackupRefusesBadExcludeFirst(t *testing.T) {
	svc := New(nil, api.Config{})
	for _, p := range []string{"[", "../x", "!", strings.Repeat("a", 5000)} {
		var ue *api.UsageError
		_, err := svc.Backup(context.Background(), api.BackupOptions{Excludes: []string{"ok", p}})
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--exclude") {
			t.Errorf("--exclude %.20q: %v, want a usage error naming --exclude", p, err)
		}
	}
}
