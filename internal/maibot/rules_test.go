package maibot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckMove(t *testing.T) {
	old, new1 := Detection{MaiBot: true, Era: Era0x, Core: "core"}, Detection{MaiBot: true, Era: Era1x, Core: "bot"}
	if ok, err := CheckMove(old, new1, map[string]string{}); ok || err == nil ||
		!strings.Contains(err.Error(), "MaiBot 0.x -> 1.x") || !strings.Contains(err.Error(), "service bot") {
		t.Errorf("unconfirmed 0.x -> 1.x: %v %v", ok, err)
	}
	if ok, err := CheckMove(old, new1, map[string]string{LegacyUpgradeVar: "1"}); !ok || err != nil {
		t.Errorf("confirmed 0.x -> 1.x: %v %v", ok, err)
	}
	for _, c := range []struct{ from, to Detection }{{new1, new1}, {old, old}, {Detection{}, new1}, {old, Detection{MaiBot: true, Core: "bot"}}} {
		if ok, err := CheckMove(c.from, c.to, nil); ok || err != nil {
			t.Errorf("%q -> %q: %v %v", c.from.Era, c.to.Era, ok, err)
		}
	}
}

func TestKnownRemoved(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("../composemerge/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	old, new1 := read("maibot-0.12-upstream.yaml"), read("maibot-1.x-upstream.yaml")
	if got := KnownRemoved(old, new1); len(got) != 1 || got[0] != "adapters" {
		t.Errorf("0.12 -> 1.x: %v", got)
	}
	for _, c := range [][2][]byte{{old, old}, {new1, new1}, {old, []byte("services: [")}, {[]byte("services: {a: {image: x}}"), new1}} {
		if got := KnownRemoved(c[0], c[1]); got != nil {
			t.Errorf("%v", got)
		}
	}
}

func TestVersionsRecorded(t *testing.T) {
	if got := AppVersions(-1, map[string]string{}); got != nil {
		t.Errorf("nothing known: %v", got)
	}
	got := AppVersions(26, map[string]string{BotConfig: "7.3.5"})
	if len(got) != 2 || got["maibot.db_schema"] != "26" || got["maibot.config.bot_config.toml"] != "7.3.5" {
		t.Errorf("AppVersions = %v", got)
	}
	if RecordedSchema(got) != 26 || RecordedSchema(nil) != -1 || RecordedSchema(map[string]string{AppVersionDBSchema: "x"}) != -1 {
		t.Error("RecordedSchema")
	}
}

func TestReadVersions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DatabaseFile), header(40), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, BotConfig), []byte("[inner]\nversion = \"7.3.5\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ModelConfig), []byte("[inner\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, configs, warnings := ReadVersions(dir, dir)
	if db != 40 || len(configs) != 1 || configs[BotConfig] != "7.3.5" || len(warnings) != 1 || !strings.Contains(warnings[0], ModelConfig) {
		t.Errorf("ReadVersions = %d %v %q", db, configs, warnings)
	}
	// Missing files and unbound dirs are absent, without a warning.
	db, configs, warnings = ReadVersions(t.TempDir(), "")
	if db != -1 || configs == nil || len(configs) != 0 || warnings != nil {
		t.Errorf("nothing there: %d %v %q", db, configs, warnings)
	}
}

func TestReadyMatch(t *testing.T) {
	match, what := ReadyMatch("Ready, {nickname}!", "en-US", "/MaiMBot/locales/en-US/startup.json")
	if !match("12:00 Ready, Mai!") || match(KnownBanners[0]) || !strings.Contains(what, `"Ready, {nickname}!"`) {
		t.Errorf("catalog banner: %q", what)
	}
	match, what = ReadyMatch("", "fr-FR", "/x.json")
	if !strings.Contains(what, "known ready banners") || !strings.Contains(what, "fr-FR") {
		t.Errorf("no catalog: %q", what)
	}
	for _, b := range KnownBanners {
		if line := strings.ReplaceAll(b, "{nickname}", "麦麦"); !match(line) {
			t.Errorf("known banner %q not matched", line)
		}
	}
}
