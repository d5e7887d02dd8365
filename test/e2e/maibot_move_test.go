package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/composemerge"
	"github.com/docker-maim/docker-maim/internal/maibot"
	"github.com/docker-maim/docker-maim/internal/testrig"
)

// TestMaiBotStandinMove proves the stand-in MaiBot layouts of testdata/maibot-move (which the
// `upgrade --compose-file` tests build on) against the engine, with no docker-maim command: a
// user's 0.12 deployment (adapters, core with the .env file bind, napcat pinned, sqlite-web on
// another address, an extra service) comes up; the merged 1.x file (composemerge, three-way on
// the 0.12 release file) keeps the user's edits and, once up, the 1.x core has moved MaiBot.db
// forward and the adapter is gone with its config still on the host; the 1.x file without the
// confirmation variable is refused by the bot; the two-way merge runs too; and the old 0.12
// file alone (no data rollback) crash-loops on the migrated database.
func TestMaiBotStandinMove(t *testing.T) {
	t.Parallel()
	p := newProject(t, "maibot-move", "")
	repo := strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0")
	p.Bot("1.1.0")
	p.Bot("2.0.0")
	src := filepath.Join("testdata", "maibot-move")
	copyCorpus(t, filepath.Join(src, "project"), p.Dir)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(src, name))
		must(t, err)
		return b
	}
	base, user, up := read("upstream-0.12.yaml"), read("user-0.12.yaml"), read("upstream-1.x.yaml")
	p.WriteFile(".env", "BOT_REPO="+repo+"\n")
	p.WriteFile("compose.yaml", string(user))
	compose(t, p, "up", "-d", "--wait")
	p.wantService("core", "1.0.0")
	p.wantService("adapters", "1.0.0")
	p.wantService("napcat", "1.1.0")
	db := p.Path("data/MaiMBot/MaiBot.db")
	if v := dbVersion(t, db); v != 0 {
		t.Fatalf("0.12 database schema %d", v)
	}
	adapterCfg, err := os.ReadFile(p.Path("docker-config/adapters/config.toml"))
	must(t, err)

	merged, rep, err := composemerge.Merge(base, user, up)
	must(t, err)
	if !slices.Equal(rep.ServicesRemoved, []string{"adapters"}) || rep.Conflicts != 0 {
		t.Fatalf("merge report: %+v", rep)
	}
	svcs, err := maibot.ServicesFromCompose(merged)
	must(t, err)
	if d := maibot.Detect(svcs); d.Era != maibot.Era1x || d.Core != "core" {
		t.Fatalf("merged file detected as %+v", d)
	}

	// Without the confirmation variable the 1.x bot refuses the 0.x database.
	unconfirmed := strings.Replace(string(merged), "      - MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1 # 确认从 0.x 升级\n", "", 1)
	if unconfirmed == string(merged) {
		t.Fatal("test setup: the confirmation line is not in the merged file")
	}
	p.WriteFile("compose.yaml", unconfirmed)
	if out, err := composeUpWait(t, p); err == nil {
		t.Fatalf("1.x without %s came up:\n%s", maibot.LegacyUpgradeVar, out)
	}
	if v := dbVersion(t, db); v != 0 {
		t.Fatalf("the refused start changed the database: schema %d", v)
	}

	p.WriteFile("compose.yaml", string(merged))
	compose(t, p, "up", "-d", "--wait", "--remove-orphans")
	core := p.wantService("core", "2.0.0")
	if !slices.Contains(core.Config.Env, "TZ=Europe/Berlin") || !slices.Contains(core.Config.Env, "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1") {
		t.Errorf("core env: %v", core.Config.Env)
	}
	p.wantService("napcat", "1.1.0")
	p.wantService("watcher", "1.0.0")
	sq := p.wantService("sqlite-web", "1.0.0")
	for port, bs := range sq.HostConfig.PortBindings {
		if len(bs) != 1 || bs[0].HostIP.String() != "127.0.0.2" {
			t.Errorf("sqlite-web port %v published as %+v, want the user's 127.0.0.2", port, bs)
		}
	}
	if _, ok := p.containers()["adapters"]; ok {
		t.Error("the adapters container outlived the 1.x layout")
	}
	if v := dbVersion(t, db); v != 28 {
		t.Fatalf("1.x database schema %d, want 28", v)
	}
	if b, err := os.ReadFile(p.Path("docker-config/adapters/config.toml")); err != nil || string(b) != string(adapterCfg) {
		t.Errorf("the adapter's config on the host: %q %v", b, err)
	}
	if olds, _ := filepath.Glob(p.Path("docker-config/mmc/old/bot_config_*.toml")); len(olds) != 1 {
		t.Errorf("config/old: %v", olds)
	}

	// The two-way merge (no base; the release is known to drop adapters) gives a file that
	// runs the same deployment.
	twoWay, rep2, err := composemerge.MergeWith(nil, user, up, composemerge.Options{RemovedServices: []string{"adapters"}})
	must(t, err)
	if rep2.Mode != composemerge.TwoWay || !slices.Equal(rep2.ServicesRemoved, []string{"adapters"}) {
		t.Fatalf("two-way report: %+v", rep2)
	}
	p.WriteFile("compose.yaml", string(twoWay))
	compose(t, p, "up", "-d", "--wait", "--remove-orphans")
	if core := p.wantService("core", "2.0.0"); !slices.Contains(core.Config.Env, "TZ=Europe/Berlin") {
		t.Errorf("two-way core env: %v", core.Config.Env)
	}
	p.wantService("watcher", "1.0.0")
	// Without a base the pinned 1.1.0 cannot be told from the old release's tag: the new
	// release's fixed tag wins, and the report says so.
	p.wantService("napcat", "1.0.0")
	var said bool
	for _, c := range rep2.Changes {
		said = said || (c.Service == "napcat" && c.Rule == composemerge.RuleTwoWayReleaseTag && strings.HasSuffix(c.User, ":1.1.0"))
	}
	if !said {
		t.Errorf("two-way report does not name napcat's tag: %+v", rep2.Changes)
	}

	// The 0.12 file back without the data: the 0.12 core refuses the migrated database.
	p.WriteFile("compose.yaml", string(user))
	if out, err := composeUpWait(t, p); err == nil {
		t.Fatalf("0.12 came up on a 1.x database:\n%s", out)
	}
	if v := dbVersion(t, db); v != 28 {
		t.Fatalf("schema %d", v)
	}
	compose(t, p, "down", "--remove-orphans")
}

func composeUpWait(t *testing.T, p *project) (string, error) {
	t.Helper()
	return testrig.ComposeE(t, p.Proj, "up", "-d", "--wait", "--wait-timeout", "20")
}

func dbVersion(t *testing.T, path string) int32 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.Open(path)
		if err == nil {
			v, err := maibot.SchemaVersion(f)
			f.Close()
			must(t, err)
			return v
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
