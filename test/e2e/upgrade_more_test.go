package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// maibotCompose is laid out like a MaiBot 1.x deployment: bind mounts only (a config dir, a
// data dir, and a plugin dir nested inside the data dir), no volumes.
const maibotCompose = `x-maim:
  configs:
    - file: ./docker-config/mmc/bot_config.toml
      template: {service: core, path: /bot/template/bot_config_template.toml}
      version_key: inner.version
services:
  core:
    image: %s:${BOT_VERSION:-1.0.0}
    restart: always
    volumes:
      - ./docker-config/mmc:/bot/config
      - ./data/MaiMBot:/bot/data
      - ./data/MaiMBot/plugins:/bot/plugins
`

// TestUpgradeBindMountsOnly upgrades and rolls back a MaiBot-1.x-like project whose data
// lives only in bind mounts, one nested inside another.
func TestUpgradeBindMountsOnly(t *testing.T) {
	t.Parallel()
	p := newProject(t, "upgrade-binds", "")
	repo := strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0")
	p.Bot("2.0.0")
	p.WriteCompose(strings.Replace(maibotCompose, "%s", repo, 1))
	p.WriteFile(".env", "BOT_VERSION=1.0.0\n")
	p.WriteFile("docker-config/mmc/bot_config.toml", userConfig)
	writeTree(t, p.Path("data/MaiMBot"), map[string]string{
		"MaiBot.db":                     strings.Repeat("\x00\x01sqlite page\xff", 4096),
		"plugins/hello/plugin.py":       "print('你好')\n",
		"plugins/hello/config.toml":     "[plugin]\nenabled = true\n",
		"plugins/hello/data/cache.json": "{}\n",
		"logs/2026-01-01.log":           "old log\n",
		"emoji/registered/表情 smile.png": "\x89PNG fake",
	})
	must(t, os.Symlink("hello/plugin.py", p.Path("data/MaiMBot/plugins/current")))
	must(t, os.Chmod(p.Path("data/MaiMBot/plugins/hello/config.toml"), 0o600))
	compose(t, p, "up", "-d", "--wait")
	v1 := p.wantService("core", "1.0.0").Image
	dataDir := p.Path("data/MaiMBot")
	before := dataOf(t, dataDir)
	pluginsBefore := testrig.TreeHash(t, p.Path("data/MaiMBot/plugins"))
	configBefore := p.fileBytes("docker-config/mmc/bot_config.toml")

	p.setEnv("BOT_VERSION", "2.0.0")
	r := p.maim(upgradeArgs...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "core: "+repo+":1.0.0 -> "+repo+":2.0.0\n") {
		t.Fatalf("upgrade: %s", r)
	}
	id := regexpFind(t, `(?m)^upgraded project \S+; backup (\S+);`, r.Stdout)
	p.wantService("core", "2.0.0")
	if d := readDataJSON(t, dataDir); d.Schema != 2 || d.CreatedBy != "1.0.0" {
		t.Errorf("data.json after the upgrade: %+v", d)
	}
	if got := testrig.TreeHash(t, p.Path("data/MaiMBot/plugins")); got != pluginsBefore {
		t.Errorf("the nested plugin dir changed in the upgrade")
	}
	if merged := p.fileBytes("docker-config/mmc/bot_config.toml"); !strings.Contains(merged, "platform = \"qq\"") || !strings.Contains(merged, "nickname = \"小智\" # 我改的名字") {
		t.Errorf("the config was not merged:\n%s", merged)
	}
	m := p.manifest(id)
	for _, s := range []string{"./data/MaiMBot", "./docker-config/mmc"} {
		if !m.has(s) {
			t.Errorf("backup %s has no source %s: %+v", id, s, m.Sources)
		}
	}
	for _, s := range m.Sources {
		if s.Kind == "volume" || s.Kind == "anonymous" {
			t.Errorf("a bind-only project's backup has a volume source: %+v", s)
		}
	}

	mustOK(t, p.maim("rollback", "--stable-period", "3s", "--timeout", "2m"))
	if c := p.wantService("core", "1.0.0"); c.Image != v1 {
		t.Errorf("after the rollback core runs %s, want %s", c.Image, v1)
	}
	wantRestored(t, "bind-mount rollback", before, dataOf(t, dataDir), "1.0.0")
	if got := testrig.TreeHash(t, p.Path("data/MaiMBot/plugins")); got != pluginsBefore {
		t.Errorf("the nested plugin dir is not as before")
	}
	if got := p.fileBytes("docker-config/mmc/bot_config.toml"); got != configBefore {
		t.Errorf("rollback did not put the old config back byte for byte:\n%s", got)
	}
	p.wantNoJournal()
}

// TestRollbackAndPrune: rollback without any upgrade is a clear error; prune --keep 1 keeps
// the newest complete backup, the one an interrupted operation needs and the last upgrade's
// (rollback's default target, with its image pin), and removes the other backups with their
// image pins, safety backups first.
func TestRollbackAndPrune(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "prune", "")
	wantFail(t, bp.maim("rollback"), 6, "no upgrade backup", bp.Name)

	bp.setEnv("BOT_VERSION", "2.0.0")
	u1 := upgraded(t, bp.maim(upgradeArgs...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	v2 := bp.wantBot("2.0.0").Image
	pin1 := "docker-maim/pin:" + bp.Name + ".bot." + u1
	if got := bp.imageID(pin1); got != bp.v1ID {
		t.Fatalf("pin %s is %q, want the v1 image %s", pin1, got, bp.v1ID)
	}

	// An upgrade to 1.1.0 killed once its backup is complete: its backup must survive prune.
	bp.Bot("1.1.0")
	bp.setEnv("BOT_VERSION", "1.1.0")
	wantKilled(t, bp.maimWith([]string{"MAIM_FAILPOINT=upgrade:backed-up"}, upgradeArgs...))
	st := bp.status()
	if st.Interrupted == nil || st.Interrupted.BackupID == "" {
		t.Fatalf("no interrupted upgrade with a backup: %+v", st.Interrupted)
	}
	u2 := st.Interrupted.BackupID
	pin2 := "docker-maim/pin:" + bp.Name + ".bot." + u2
	if got := bp.imageID(pin2); got != v2 {
		t.Fatalf("pin %s is %q, want the v2 image %s", pin2, got, v2)
	}
	b3 := bp.backup("--full") // whole: u2 is no increment's base once the interrupted upgrade is resolved

	r := mustOK(t, bp.maim("prune", "--keep", "1"))
	if strings.Contains(r.Stdout, "removed 2") || !strings.Contains(r.Stdout, "kept "+u1+": the last upgrade's backup") ||
		!strings.Contains(r.Stdout, "kept "+u2+": the interrupted upgrade needs it") {
		t.Errorf("prune --keep 1 with %s (last upgrade), %s (interrupted), %s (newest): %s", u1, u2, b3, r)
	}
	for id, want := range map[string]bool{u1: true, u2: true, b3: true} {
		if _, err := os.Stat(bp.backupPath(id)); (err == nil) != want {
			t.Errorf("backup %s present=%v after prune, want %v", id, err == nil, want)
		}
	}
	if bp.imageID(pin1) != bp.v1ID {
		t.Errorf("prune removed the pin %s of the last upgrade's backup %s", pin1, u1)
	}
	if bp.imageID(pin2) != v2 {
		t.Errorf("prune removed the pin %s that the interrupted upgrade needs", pin2)
	}

	// Resolve the interrupted upgrade: back to v2, as before it.
	r = mustOK(t, bp.maim("rollback", "--stable-period", "3s", "--timeout", "2m"))
	safety := regexpFind(t, `the state before the rollback is in backup (\S+)`, r.Stdout)
	if c := bp.wantBot("2.0.0"); c.Image != v2 {
		t.Errorf("after resolving, the bot runs %s, want v2 %s", c.Image, v2)
	}
	r = mustOK(t, bp.maim("prune", "--keep", "1"))
	var left []string
	entries, err := os.ReadDir(filepath.Join(bp.BackupDir, bp.Name))
	must(t, err)
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			left = append(left, e.Name())
		}
	}
	// The safety backup goes before the manual b3; u1 is still the last upgrade's backup.
	if strings.Join(left, " ") != u1+" "+b3 || !strings.Contains(r.Stdout, "removed "+safety) {
		t.Errorf("after prune --keep 1 the backups are %v, want %s (last upgrade) and %s (newest non-safety)\n%s", left, u1, b3, r)
	}
	if bp.imageID(pin2) != "" {
		t.Errorf("prune left the pin %s of the pruned backup %s", pin2, u2)
	}
}
