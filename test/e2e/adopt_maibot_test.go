package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/maibot"
)

// maibotProject is a running user's MaiBot 0.12 deployment on the stand-in images
// (testdata/maibot-move: user-0.12.yaml as compose.yaml) with the 1.x release's file as
// new.yaml and the 0.12 release's as base.yaml; newYAML edits the release file first.
func maibotProject(t *testing.T, name string, newYAML func(string) string) *project {
	t.Helper()
	p := newProject(t, name, "")
	repo := strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0")
	p.Bot("1.1.0")
	p.Bot("2.0.0")
	src := filepath.Join("testdata", "maibot-move")
	copyCorpus(t, filepath.Join(src, "project"), p.Dir)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(src, name))
		must(t, err)
		return string(b)
	}
	p.WriteFile(".env", "BOT_REPO="+repo+"\n")
	p.WriteFile("compose.yaml", read("user-0.12.yaml"))
	p.WriteFile("base.yaml", read("upstream-0.12.yaml"))
	up := read("upstream-1.x.yaml")
	if newYAML != nil {
		up = newYAML(up)
	}
	p.WriteFile("new.yaml", up)
	compose(t, p, "up", "-d", "--wait")
	p.wantService("adapters", "1.0.0")
	return p
}

// TestUpgradeComposeFileMaiBot: a user's MaiBot 0.12 deployment (TZ, EULA hashes, sqlite-web
// on 127.0.0.2, napcat pinned, an extra watcher service) upgraded with --compose-file to the
// 1.x layout, with --base (three-way) and without (two-way; the adapters service is known
// to be gone in 1.x): the user's edits are in the new file, the 1.x core migrated the
// database forward, the adapters container is gone and its config is in the backup and
// still on the host, the backup recorded the database schema (0) and the plan said what
// happens to it, and a plain `docker compose up -d` changes nothing.
func TestUpgradeComposeFileMaiBot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		base []string
		mode string
	}{
		{"three-way", []string{"--base", "base.yaml"}, "three-way"},
		{"two-way", nil, "two-way"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := maibotProject(t, "adopt-maibot-"+tc.name, nil)
			adapterCfg := p.fileBytes("docker-config/adapters/config.toml")
			args := append([]string{"--compose-file", "new.yaml"}, tc.base...)
			dry := mustOK(t, p.maim(append([]string{"upgrade", "--dry-run"}, args...)...))
			for _, want := range []string{"MaiBot: core service core, 0.x -> 1.x; " + maibot.LegacyUpgradeVar + "=1 is set", "MaiBot: database schema 0 -> the new version migrates forward; rollback restores the data", "services that disappear: adapters", "./docker-config/adapters/config.toml: kept in the upgrade's backup", "MaiBot: health gate of core: its ready banner, read from its new image's catalog for its locale (\"" + maibot.ReadyLog + "\" in zh-CN"} {
				if !strings.Contains(dry.Stdout, want) {
					t.Errorf("dry-run plan lacks %q:\n%s", want, dry.Stdout)
				}
			}
			// The JSON plan carries the adoption and validates against docs/schema/upgrade.json.
			js := mustOK(t, p.maim(append([]string{"upgrade", "--dry-run", "--format", "json"}, args...)...))
			doc := decode(t, "upgrade --dry-run --compose-file", js.Stdout)
			for _, e := range loadSchemas(t).validate("upgrade.json", doc) {
				t.Errorf("upgrade.json: %s", e)
			}
			if !strings.Contains(js.Stdout, `"services_removed": [`) || !strings.Contains(js.Stdout, `"db_schema": 0`) {
				t.Errorf("JSON plan lacks the adoption:\n%s", js.Stdout)
			}
			r := mustOK(t, p.maim(append(append([]string{}, upgradeArgs...), args...)...))
			id := regexpFind(t, `upgraded project \S+; backup (\S+);`, r.Stdout)
			if !strings.Contains(r.Stdout, "("+tc.mode+" merge)") {
				t.Errorf("upgrade output:\n%s", r.Stdout)
			}
			core := p.wantService("core", "2.0.0")
			if !slices.Contains(core.Config.Env, "TZ=Europe/Berlin") {
				t.Errorf("core env lost the user's TZ: %v", core.Config.Env)
			}
			p.wantService("watcher", "1.0.0")
			p.wantService("sqlite-web", "1.0.0")
			if _, ok := p.containers()["adapters"]; ok {
				t.Error("the adapters container outlived the 1.x layout")
			}
			if v := dbVersion(t, p.Path("data/MaiMBot/MaiBot.db")); v != 28 {
				t.Errorf("database schema %d after the upgrade, want 28", v)
			}
			if got := p.fileBytes("docker-config/adapters/config.toml"); got != adapterCfg {
				t.Error("the adapter's config on the host changed")
			}
			man := p.manifest(id)
			if !man.has("./docker-config/adapters/config.toml") {
				t.Error("the adapter's config is not in the backup")
			}
			if file := p.fileBytes("compose.yaml"); !strings.Contains(file, "watcher:") || strings.Contains(file, "adapters:") || !strings.Contains(file, "127.0.0.2") {
				t.Errorf("merged compose file:\n%s", file)
			}
			rows := mustOK(t, p.maim("backups")).Stdout
			if !mustCompile(id + `: .*maibot\.db_schema 0`).MatchString(rows) {
				t.Errorf("backups does not show the recorded schema:\n%s", rows)
			}
			if st := mustOK(t, p.maim("status")).Stdout; !strings.Contains(st, "maibot.db_schema 28") || !mustCompile(`Before the last upgrade \(in its backup\): .*maibot\.db_schema 0`).MatchString(st) {
				t.Errorf("status:\n%s", st)
			}
			p.wantUpChangesNothing()
			p.wantNoJournal()
		})
	}
}

// TestUpgradeComposeFileMaiBotRefusedUnconfirmed: a 1.x file without the confirmation
// variable is refused in the plan, naming the variable to add; nothing changes.
func TestUpgradeComposeFileMaiBotRefusedUnconfirmed(t *testing.T) {
	t.Parallel()
	p := maibotProject(t, "adopt-maibot-unconfirmed", func(s string) string {
		return strings.Replace(s, "      - MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1 # 确认从 0.x 升级\n", "", 1)
	})
	before := p.containerIDs()
	file := p.fileBytes("compose.yaml")
	wantFail(t, p.maim(append(append([]string{}, upgradeArgs...), "--compose-file", "new.yaml", "--base", "base.yaml")...), 12, "Add `- "+maibot.LegacyUpgradeVar+"=1` to the environment of service core")
	if got := p.fileBytes("compose.yaml"); got != file {
		t.Error("the refused upgrade changed compose.yaml")
	}
	if after := p.containerIDs(); !slices.Equal(before, after) {
		t.Errorf("the refused upgrade changed the containers: %v -> %v", before, after)
	}
	if v := dbVersion(t, p.Path("data/MaiMBot/MaiBot.db")); v != 0 {
		t.Errorf("schema %d", v)
	}
}

// TestUpgradeComposeFileMaiBotRollsBack: the 1.x core migrates the database and then
// crashes; the upgrade rolls back to the 0.12 compose file byte for byte, the adapters
// service runs again, the database is at its old schema (0), and a plain
// `docker compose up -d` changes nothing. Without the data restore the 0.12 core would
// refuse the migrated database; without the file restore the 1.x layout would stay.
func TestUpgradeComposeFileMaiBotRollsBack(t *testing.T) {
	t.Parallel()
	p := maibotProject(t, "adopt-maibot-crash", func(s string) string {
		return strings.Replace(s, "      - BOT_MAIBOT=core\n", "      - BOT_MAIBOT=core\n      - BOT_FAIL=crash-late\n", 1)
	})
	file := p.fileBytes("compose.yaml")
	r := p.maim(append(append([]string{}, upgradeArgs...), "--compose-file", "new.yaml", "--base", "base.yaml")...)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (rolled back): %s", r)
	}
	if !strings.Contains(r.Stdout+r.Stderr, "bot maibot database migrated schema 0 -> 28") {
		t.Errorf("the 1.x core did not migrate before crashing: %s", r)
	}
	if got := p.fileBytes("compose.yaml"); got != file {
		t.Errorf("compose.yaml after the rollback:\n%s\nwant the 0.12 file:\n%s", got, file)
	}
	p.wantService("adapters", "1.0.0")
	p.wantService("core", "1.0.0")
	p.wantService("watcher", "1.0.0")
	if v := dbVersion(t, p.Path("data/MaiMBot/MaiBot.db")); v != 0 {
		t.Errorf("database schema %d after the rollback, want 0", v)
	}
	p.wantUpChangesNothing()
	p.wantNoJournal()
}
