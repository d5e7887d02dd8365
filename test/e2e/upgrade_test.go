package e2e

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// upgradeArgs are the flags every upgrade test passes (the bot has a healthcheck; the
// stable period only matters for services without one).
var upgradeArgs = []string{"upgrade", "--accept-breaking", "--stable-period", "3s", "--timeout", "2m"}

// TestUpgradeV1ToV2AndRollback: v1 -> v2 carries the data over (migrated to schema 2) and
// merges the config (user values, inline comment and regexes kept, new keys, version key
// from the template); status reports it; rollback puts data and the config file back byte
// for byte and runs v1 again; `rollback ID` of the safety backup returns to v2.
func TestUpgradeV1ToV2AndRollback(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "upgrade-ok", "")
	before, _ := bp.data()
	configBefore := bp.fileBytes("config/bot_config.toml")

	bp.setEnv("BOT_VERSION", "2.0.0")
	r := bp.maim(upgradeArgs...)
	id := upgraded(t, r, bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	c := bp.wantBot("2.0.0")
	if c.Image == bp.v1ID {
		t.Fatalf("v2 runs the v1 image %s", c.Image)
	}

	// Data carried over and migrated by v2.
	after, dir := bp.data()
	d := readDataJSON(t, dir)
	if d.Schema != 2 || d.CreatedBy != "1.0.0" || !reflect.DeepEqual(d.Migrations, []string{"1->2 by 2.0.0"}) {
		t.Errorf("data.json after the upgrade: %+v, want schema 2 created by 1.0.0 and migrated 1->2 by 2.0.0", d)
	}
	if !strings.HasPrefix(after.Starts, before.Starts) || !strings.Contains(strings.TrimPrefix(after.Starts, before.Starts), "start version=2.0.0 ") {
		t.Errorf("starts.log was not carried over:\n--- before:\n%s--- after:\n%s", before.Starts, after.Starts)
	}
	beforeDir := bp.extractSource(id, "botdata")
	if got, want := testrig.TreeHash(t, filepath.Join(dir, "user")), testrig.TreeHash(t, filepath.Join(beforeDir, "user")); got != want {
		t.Errorf("the user's files in the volume changed in the upgrade")
	}
	if got := dataOf(t, beforeDir); got != before {
		t.Errorf("the upgrade's backup of botdata is not the data before the upgrade")
	}

	// Config merged: user values (with comment and backslashes) kept, new keys, version key from the template.
	merged := bp.fileBytes("config/bot_config.toml")
	for _, want := range []string{
		"nickname = \"小智\" # 我改的名字\n",
		"qq_account = 987654\n",
		`ban_msgs_regex = ["^\\d{5,}$", "a\\.b\\\\c", 'C:\temp\\']` + "\n",
		"# 消息平台（2.0 版本新增）\nplatform = \"qq\"\n",
		"max_context = 15\n",
		"[memory]\n# 是否启用记忆系统（2.0 版本新增）\nenable = true\n",
		"[inner]\n# 配置文件版本号，请不要手动修改\nversion = \"2.0.0\"\n",
	} {
		if !strings.Contains(merged, want) {
			t.Errorf("the merged config lacks %q:\n%s", want, merged)
		}
	}
	if strings.Contains(merged, "ban_words") {
		t.Errorf("the merged config still has ban_words, which 2.0.0 dropped:\n%s", merged)
	}
	eff := readEffective(t, dir)
	if eff.Version != "2.0.0" || eff.InnerVersion != "2.0.0" || eff.TemplateInnerVersion != "2.0.0" {
		t.Errorf("v2 loaded version %q, inner %q, template inner %q", eff.Version, eff.InnerVersion, eff.TemplateInnerVersion)
	}
	botCfg, _ := eff.Config["bot"].(map[string]any)
	chatCfg, _ := eff.Config["chat"].(map[string]any)
	memCfg, _ := eff.Config["memory"].(map[string]any)
	if botCfg["nickname"] != "小智" || botCfg["platform"] != "qq" || memCfg["enable"] != true ||
		!reflect.DeepEqual(chatCfg["ban_msgs_regex"], userRegexes) || chatCfg["reply_frequency"] != 0.8 {
		t.Errorf("v2 did not load the user's values and the new keys: %v", eff.Config)
	}
	// The old config is in the upgrade's backup.
	m := bp.manifest(id)
	if m.Reason != "upgrade" {
		t.Errorf("backup %s reason %q, want upgrade", id, m.Reason)
	}
	if _, err := os.Stat(filepath.Join(bp.backupPath(id), "config-merge.txt")); err != nil {
		t.Errorf("no config merge report beside the backup: %v", err)
	}

	// status shows the last upgrade, as text and as JSON.
	sr := mustOK(t, bp.maim("status"))
	for _, want := range []string{"Last upgrade: upgraded", "backup " + id, bp.repo + ":1.0.0 -> " + bp.repo + ":2.0.0"} {
		if !strings.Contains(sr.Stdout, want) {
			t.Errorf("status does not say %q: %s", want, sr)
		}
	}
	st := bp.status()
	if st.Project != bp.Name || st.LastUpgrade == nil || st.LastUpgrade.Result != "upgraded" || st.LastUpgrade.BackupID != id || st.Interrupted != nil {
		t.Errorf("status --format json: %+v", st)
	}
	if len(st.Services) != 1 || st.Services[0].Service != "bot" || st.Services[0].Version != "2.0.0" || st.Services[0].State != "running" || st.Services[0].Health != "healthy" {
		t.Errorf("status --format json services: %+v", st.Services)
	}

	// Rollback: v1 by image ID, the data and the config file exactly as before the upgrade.
	rr := mustOK(t, bp.maim("rollback", "--stable-period", "3s", "--timeout", "2m"))
	if !strings.Contains(rr.Stdout, "rolled back to backup "+id) {
		t.Errorf("rollback output does not name backup %s: %s", id, rr)
	}
	safety := regexpFind(t, `the state before the rollback is in backup (\S+)`, rr.Stdout)
	if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
		t.Errorf("after the rollback the bot runs image %s, want the old %s", c.Image, bp.v1ID)
	}
	rolled, _ := bp.data()
	wantRestored(t, "rollback", before, rolled, "1.0.0")
	if got := bp.fileBytes("config/bot_config.toml"); got != configBefore {
		t.Errorf("rollback did not put the old config file back byte for byte:\n--- got:\n%s--- want:\n%s", got, configBefore)
	}
	bp.wantNoJournal()

	// rollback ID: the safety backup holds the upgraded state: v2, migrated data, merged config.
	mustOK(t, bp.maim("rollback", safety, "--no-safety-backup", "--stable-period", "3s", "--timeout", "2m"))
	bp.wantBot("2.0.0")
	again, dir2 := bp.data()
	if readDataJSON(t, dir2).Schema != 2 {
		t.Errorf("rollback %s did not bring back the schema 2 data", safety)
	}
	wantRestored(t, "rollback "+safety, after, again, "2.0.0")
	if got := bp.fileBytes("config/bot_config.toml"); got != merged {
		t.Errorf("rollback %s did not bring back the merged config:\n%s", safety, got)
	}
}

func regexpFind(t testing.TB, pattern, s string) string {
	t.Helper()
	m := mustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%q not found in:\n%s", pattern, s)
	}
	return m[1]
}
