package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// The compose file names what runs after a restore too: restore brings back the backup's
// compose and env files with the data, and recreates, from them, every service they
// describe otherwise than its container (compose's config hash against the container's
// label), on the image the backup recorded. Before, restore only stopped and started the
// containers, and the next plain `docker compose up -d` silently recreated them.

// restoreBackup runs `docker maim restore ID args...` with a short health gate.
func (p *project) restoreBackup(id string, args ...string) Result {
	p.t.Helper()
	return p.maim(append(append([]string(nil), restoreArgs...), append([]string{id}, args...)...)...)
}

// TestRestoreDriftAfterUpgrade: a manual backup on 1.0.0, then an upgrade to 2.0.0 by the
// tag in .env, then `restore` of the manual backup: the data is the backup's, .env names
// 1.0.0 again and 1.0.0 runs (the image the backup recorded), so `docker compose up -d`
// changes nothing (before, 2.0.0 kept running on the restored 1.0.0 data while .env named
// 1.0.0, and `docker compose up -d` silently went to 1.0.0).
func TestRestoreDriftAfterUpgrade(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "restore-drift-up", "")
	id := bp.backup()
	before := dataOf(t, bp.extractSource(id, "botdata"))
	envBefore := bp.fileBytes(".env")

	bp.setEnv("BOT_VERSION", "2.0.0")
	upgraded(t, bp.maim(upgradeArgs...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	bp.wantBot("2.0.0")

	r := mustOK(t, bp.restoreBackup(id))
	want := "recreated bot on " + bp.repo + ":1.0.0: the restored compose file describes it differently\n"
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("the restore does not say %q: %s", want, r)
	}
	if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
		t.Errorf("after the restore the bot runs image %s, want the one the backup recorded %s", c.Image, bp.v1ID)
	}
	bp.wantFile("after the restore", ".env", envBefore)
	after, _ := bp.data()
	wantRestored(t, "after the restore", before, after, "1.0.0")
	bp.wantNoJournal()
	bp.wantUpChangesNothing()
	bp.wantBot("1.0.0")
}

// TestRestoreDriftChangedEnv: a manual backup, then an environment value changed in the
// compose file and `docker compose up -d`; `restore` puts the old file back and recreates
// the container from it (a new container, the old value), says so in its JSON result, and
// `docker compose up -d` changes nothing afterwards.
func TestRestoreDriftChangedEnv(t *testing.T) {
	t.Parallel()
	dp := newDriftProject(t, "restore-drift-env", "")
	id := dp.backup()
	dp.WriteFile("compose.yaml", dp.compose("1.0.0", "crash")) // BOT_FAIL applies to 2.0.0 only
	compose(t, dp.project, "up", "-d", "--wait")
	changed := dp.wantBot("1.0.0")
	if !strings.Contains(strings.Join(changed.Config.Env, "\n"), "BOT_FAIL=crash") {
		t.Fatalf("the edited compose file was not applied: %v", changed.Config.Env)
	}

	r := mustOK(t, dp.restoreBackup(id, "--format", "json"))
	var res struct {
		BackupID  string `json:"backup_id"`
		Recreated []struct {
			Service, Why, Image string
		} `json:"recreated"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("restore --format json: %v\n%s", err, r)
	}
	if res.BackupID != id || len(res.Recreated) != 1 || res.Recreated[0].Service != "bot" ||
		res.Recreated[0].Why != "the restored compose file describes it differently" || res.Recreated[0].Image != dp.repo+":1.0.0" {
		t.Errorf("the JSON result: %+v", res)
	}
	dp.wantFile("after the restore", "compose.yaml", dp.before)
	c := dp.wantBot("1.0.0")
	if c.ID == changed.ID {
		t.Errorf("the bot's container %s was not recreated from the restored compose file", c.ID[:12])
	}
	if env := strings.Join(c.Config.Env, "\n"); !strings.Contains(env, "BOT_FAIL=\n") && !strings.HasSuffix(env, "BOT_FAIL=") {
		t.Errorf("the bot does not run with the restored environment: %v", c.Config.Env)
	}
	dp.wantUpChangesNothing()
}

// TestRestoreNoDrift: a restore where the files describe what runs recreates nothing: the
// same containers are stopped and started again.
func TestRestoreNoDrift(t *testing.T) {
	t.Parallel()
	dp := newDriftProject(t, "restore-drift-none", "")
	id := dp.backup()
	before := dp.containers()["bot"]

	r := mustOK(t, dp.restoreBackup(id))
	if strings.Contains(r.Stdout, "recreated") {
		t.Errorf("a restore with nothing changed recreated something: %s", r)
	}
	after := dp.wantBot("1.0.0")
	if after.ID != before.ID {
		t.Errorf("the bot's container changed in the restore: %s -> %s", before.ID[:12], after.ID[:12])
	}
	if after.State.StartedAt == before.State.StartedAt {
		t.Errorf("the bot was not stopped and started again by the restore")
	}
	dp.wantFile("after the restore", "compose.yaml", dp.before)
	dp.wantUpChangesNothing()
}

// TestRestoreDriftKilledRecreating: a kill -9 once the restore has journaled the services it
// will recreate (phase recreating): `rollback` puts the safety backup back and recreates
// them as they were, so 2.0.0 runs again on its data, .env names it, and `docker compose up
// -d` changes nothing.
func TestRestoreDriftKilledRecreating(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "restore-drift-kill", "")
	id := bp.backup()
	bp.setEnv("BOT_VERSION", "2.0.0")
	upgraded(t, bp.maim(upgradeArgs...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	v2 := bp.wantBot("2.0.0")
	envV2 := bp.fileBytes(".env")
	dataV2 := dataOf(t, bp.readVolume(bp.vol))

	wantKilled(t, bp.maimWith([]string{"MAIM_FAILPOINT=restore:recreating"}, append(append([]string(nil), restoreArgs...), id)...))
	if st := bp.status(); st.Interrupted == nil || st.Interrupted.Op != "restore" || st.Interrupted.Phase != "recreating" {
		t.Fatalf("status does not report the restore interrupted while recreating: %+v", st.Interrupted)
	}
	mustOK(t, bp.maim(rollbackArgs...))
	bp.wantNoJournal()
	if c := bp.wantBot("2.0.0"); c.Image != v2.Image {
		t.Errorf("after the rollback the bot runs image %s, want %s", c.Image, v2.Image)
	}
	bp.wantFile("after the rollback", ".env", envV2)
	after, _ := bp.data()
	wantRestored(t, "after the rollback", dataV2, after, "2.0.0")
	bp.wantUpChangesNothing()
}
