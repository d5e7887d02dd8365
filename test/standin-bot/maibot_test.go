package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/docker-maim/docker-maim/internal/maibot"
)

func userVersion(t *testing.T, path string) int32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := maibot.SchemaVersion(f) // the reader docker-maim uses reads what the stand-in writes
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func stop(t *testing.T, c interface{ Wait() error }, p *os.Process) {
	p.Signal(syscall.SIGTERM)
	if err := c.Wait(); exitCode(err) != 0 {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func TestMaiBotMove012To1x(t *testing.T) {
	v1, v2 := buildBot(t, "1.0.0"), buildBot(t, "2.0.0")
	s := newSandbox(t, "1.0.0")
	envFile := filepath.Join(s.root, "mmc", ".env")
	db := filepath.Join(s.data, "MaiBot.db")
	old := []string{"BOT_MAIBOT=0.12", "BOT_ENV_FILE=" + envFile}

	// 0.12: the .env bind must be a file; Docker's directory for a missing one is refused.
	os.MkdirAll(envFile, 0o755)
	out, err := s.cmd(v1, old).CombinedOutput()
	if exitCode(err) != exitConfig || !strings.Contains(string(out), "is a directory") {
		t.Fatalf("0.12 with a directory .env: %v\n%s", err, out)
	}
	os.Remove(envFile)
	os.WriteFile(envFile, []byte("HOST=0.0.0.0\n"), 0o644)
	c, lines := s.start(t, v1, old, "bot ready version=1.0.0")
	stop(t, c, c.Process)
	if !strings.Contains(strings.Join(lines, "\n"), maibot.ReadyLog) {
		t.Errorf("no MaiBot ready line:\n%s", strings.Join(lines, "\n"))
	}
	if v := userVersion(t, db); v != 0 {
		t.Fatalf("0.12 database user_version %d", v)
	}

	// 1.x on the 0.x database: refused without the confirmation variable, data untouched.
	neu := []string{"BOT_MAIBOT=1.x", "BOT_WEBUI_ADDR=127.0.0.1:0"}
	out, err = s.cmd(v2, neu).CombinedOutput()
	if exitCode(err) != exitNotConfirmed || !strings.Contains(string(out), "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED") {
		t.Fatalf("1.x without confirmation: %v\n%s", err, out)
	}
	if v := userVersion(t, db); v != 0 {
		t.Fatalf("refused start changed the database: %d", v)
	}
	// A required bind that is not a mount point.
	out, err = s.cmd(v2, append(neu, "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1", "BOT_REQUIRE_MOUNTS=/definitely/not/mounted")).CombinedOutput()
	if exitCode(err) != exitConfig || !strings.Contains(string(out), "not mounted") {
		t.Fatalf("1.x without a bind: %v\n%s", err, out)
	}
	// Confirmed: migrated forward (24 + 2*2), config moved to old/ and rewritten.
	os.WriteFile(s.config, []byte("[inner]\nversion = \"0.9.0\"\n[bot]\nnickname = \"小麦\"\n"), 0o644)
	c, lines = s.start(t, v2, append(neu, "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1", "BOT_TEMPLATE="+filepath.Join("templates", "2.0.0.toml")), "bot ready version=2.0.0")
	stop(t, c, c.Process)
	if v := userVersion(t, db); v != 28 {
		t.Fatalf("1.x user_version %d; output:\n%s", v, strings.Join(lines, "\n"))
	}
	if b, _ := os.ReadFile(filepath.Join(s.data, "legacy.log")); !strings.Contains(string(b), "__legacy_v1_") {
		t.Errorf("legacy.log: %q", b)
	}
	cfg, _ := os.ReadFile(s.config)
	if !strings.Contains(string(cfg), `version = "2.0.0"`) || !strings.Contains(string(cfg), "小麦") {
		t.Errorf("config not migrated: %s", cfg)
	}
	olds, _ := filepath.Glob(filepath.Join(filepath.Dir(s.config), "old", "bot_config_*.toml"))
	if len(olds) != 1 {
		t.Errorf("config/old: %v", olds)
	}

	// Back to the 0.12 image on the migrated database: refused (rollback must restore data).
	out, err = s.cmd(v1, old).CombinedOutput()
	if exitCode(err) != exitSchema || !strings.Contains(string(out), "schema 28") {
		t.Fatalf("0.12 on a 1.x database: %v\n%s", err, out)
	}
	// An older 1.x image on the newer database: refused too.
	out, err = s.cmd(v1, append(neu, "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1")).CombinedOutput()
	if exitCode(err) != exitSchema || !strings.Contains(string(out), "newer than this MaiBot knows (26)") {
		t.Fatalf("older 1.x on a newer database: %v\n%s", err, out)
	}
	if v := userVersion(t, db); v != 28 {
		t.Fatalf("refusals changed the database: %d", v)
	}
}

func TestMaiBotAdapter(t *testing.T) {
	v1 := buildBot(t, "1.0.0")
	s := newSandbox(t, "1.0.0")
	cfg := filepath.Join(s.root, "adapters", "config.toml")
	env := []string{"BOT_MAIBOT=adapter", "BOT_ADAPTER_CONFIG=" + cfg}
	os.MkdirAll(cfg, 0o755) // Docker's directory for a missing file bind
	if out, err := s.cmd(v1, env).CombinedOutput(); exitCode(err) != exitConfig {
		t.Fatalf("adapter with a directory config: %v\n%s", err, out)
	}
	os.Remove(cfg)
	os.WriteFile(cfg, []byte("[inner]\nversion = \"0.1.2\"\n"), 0o644)
	c, lines := s.start(t, v1, env, "bot ready version=1.0.0")
	stop(t, c, c.Process)
	if !strings.Contains(strings.Join(lines, "\n"), "inner_version=0.1.2") {
		t.Errorf("%s", strings.Join(lines, "\n"))
	}
	if out, err := s.cmd(v1, []string{"BOT_MAIBOT=2.x"}).CombinedOutput(); exitCode(err) != exitConfig {
		t.Fatalf("unknown mode: %v\n%s", err, out)
	}
	version = "1.1.0"
	if maibotMode("core") != "0.12" || maibotMode("adapter") != "adapter" {
		t.Error("core on 1.x")
	}
	version = "2.0.0"
	if maibotMode("core") != "1.x" {
		t.Error("core on 2.x")
	}
	version = "0.0.0-dev"
}

func TestSQLiteHeader(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.db")
	if err := writeUserVersion(p, 26); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Size() != 4096 {
		t.Errorf("size %d", st.Size())
	}
	if v := userVersion(t, p); v != 26 {
		t.Fatal(v)
	}
	writeUserVersion(p, 40)
	if v, ok, err := readUserVersion(p); v != 40 || !ok || err != nil {
		t.Fatal(v, ok, err)
	}
}

// TestMaiBotBanner: in 1.x mode the stand-in logs the banner of its catalog for
// MAIBOT_LOCALE (zh-CN unset), which docker-maim's reading of the same catalog recognises;
// the ja-JP and ko ones (the stand-in's words) only through the catalog, not the known
// banners; a missing catalog logs the key.
func TestMaiBotBanner(t *testing.T) {
	v2 := buildBot(t, "2.0.0")
	for _, locale := range []string{"", "zh-CN", "en-US", "ja-JP", "ko", "xx"} {
		s := newSandbox(t, "2.0.0")
		env := []string{"BOT_MAIBOT=1.x", "BOT_WEBUI_ADDR=127.0.0.1:0", "BOT_LOCALES=locales", "BOT_NICKNAME=小智"}
		if locale != "" {
			env = append(env, "MAIBOT_LOCALE="+locale)
		}
		c, lines := s.start(t, v2, env, "bot ready version=2.0.0")
		stop(t, c, c.Process)
		line := lines[len(lines)-2]
		if locale == "xx" {
			if line != maibot.BannerKey {
				t.Errorf("no catalog: logged %q, want the key", line)
			}
			continue
		}
		if locale == "" {
			locale = maibot.DefaultLocale
		}
		cat, err := os.ReadFile(filepath.Join("locales", locale, "startup.json"))
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := maibot.BannerFromCatalog(cat)
		if err != nil || !maibot.ReadyBanners(tmpl)[0].Match(line) || !strings.Contains(line, "小智") {
			t.Errorf("%s: logged %q, catalog %q (%v)", locale, line, tmpl, err)
		}
		known := false
		for _, b := range maibot.ReadyBanners("") {
			known = known || b.Match(line)
		}
		if want := locale == "zh-CN" || locale == "en-US"; known != want {
			t.Errorf("%s: %q is a known banner: %v, want %v", locale, line, known, want)
		}
	}
}

// TestMaiBotSlowMigration: BOT_MIGRATE_SECONDS logs migration steps before the new schema
// and the banner; BOT_MIGRATE_HANG stops logging after three steps and never migrates.
func TestMaiBotSlowMigration(t *testing.T) {
	v2 := buildBot(t, "2.0.0")
	s := newSandbox(t, "2.0.0")
	db := filepath.Join(s.data, "MaiBot.db")
	os.MkdirAll(s.data, 0o755)
	if err := writeUserVersion(db, 26); err != nil {
		t.Fatal(err)
	}
	env := []string{"BOT_MAIBOT=1.x", "BOT_WEBUI_ADDR=127.0.0.1:0", "BOT_LOCALES=locales"}
	c, lines := s.start(t, v2, append(env, "BOT_MIGRATE_HANG=1"), "migration step 3 (schema 26 -> 28)")
	stop(t, c, c.Process)
	if v := userVersion(t, db); v != 26 {
		t.Fatalf("a hung migration wrote schema %d", v)
	}
	c, lines = s.start(t, v2, append(env, "BOT_MIGRATE_SECONDS=1"), "bot ready version=2.0.0")
	stop(t, c, c.Process)
	out := strings.Join(lines, "\n")
	steps := strings.Count(out, "bot maibot database migration step")
	if steps < 2 || strings.Index(out, "migration step 1 ") > strings.Index(out, "migrated schema 26 -> 28") || !strings.Contains(out, "全部系统初始化完成，麦麦 已成功唤醒") {
		t.Errorf("%d steps:\n%s", steps, out)
	}
	if v := userVersion(t, db); v != 28 {
		t.Fatalf("schema %d after the migration", v)
	}
}
