package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// TestUpgradeFailureRollsBack: when v2 fails after the stop, the upgrade rolls back by
// itself (exit 10): v1 runs again, by the same image ID, healthy, on data and files that are
// byte-identical to before the upgrade. Only v2 fails (BOT_FAIL_ON=2.0.0).
func TestUpgradeFailureRollsBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fail string
		// logs is a line the failed v2 must have logged (shows the failure was v2's own).
		logs string
	}{
		// v2 exits at once and its restart policy makes it crash-loop.
		{"crash-loop", "crash", "bot crashing on purpose (fail=crash) version=2.0.0"},
		// v2 runs but never reports healthy.
		{"never-healthy", "unhealthy", "unhealthy"},
		// v2 migrates the data to schema 2 (which 1.x refuses to start on), then crashes:
		// v1 only starts again if the rollback restored the data too.
		{"migrates-then-crashes", "crash-late", "bot migrating data schema 1 -> 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bp := newBotProject(t, "upgrade-"+tc.name, "BOT_FAIL="+tc.fail+"\nBOT_FAIL_ON=2.0.0\n")
			before, _ := bp.data()
			filesBefore := testrig.TreeHash(t, bp.Dir)
			bp.setEnv("BOT_VERSION", "2.0.0")

			r := bp.maim(upgradeArgs...)
			if r.Code != 10 {
				t.Fatalf("want exit 10 (failed and rolled back): %s", r)
			}
			id := regexpFind(t, `upgrade failed and was rolled back to backup (\S+): the project runs as before`, r.Stdout)
			if !strings.Contains(r.Stdout+r.Stderr, tc.logs) {
				t.Errorf("the output does not show v2's failure %q: %s", tc.logs, r)
			}
			if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
				t.Errorf("after the rollback the bot runs image %s, want the old %s", c.Image, bp.v1ID)
			}
			after, dir := bp.data()
			wantRestored(t, "automatic rollback", before, after, "1.0.0")
			if d := readDataJSON(t, dir); d.Schema != 1 || len(d.Migrations) != 0 {
				t.Errorf("data.json after the rollback: %+v", d)
			}
			if got := testrig.TreeHash(t, bp.Dir); got != filesBefore {
				t.Errorf("the project files (compose, .env, config) differ from before .env was pointed at 2.0.0")
			}
			bp.wantNoJournal()
			st := bp.status()
			if st.LastUpgrade == nil || st.LastUpgrade.Result != "rolled-back" || st.LastUpgrade.BackupID != id || st.LastUpgrade.Error == "" || st.Interrupted != nil {
				t.Errorf("status after the automatic rollback: %+v", st.LastUpgrade)
			}
		})
	}
}

// TestUpgradeBreakingRefusedThenAccepted: a major version rise behind a floating tag is
// refused without --accept-breaking (exit 12) and nothing changes: containers, volumes,
// local tags (the pull moved :latest; it is put back), files, backups. With the flag and
// --reset-data botdata it upgrades, v2 starts on an empty data volume, and the upgrade's
// backup still holds the old data; rollback brings it and v1 (and :latest) back.
func TestUpgradeBreakingRefusedThenAccepted(t *testing.T) {
	t.Parallel()
	bp := makeBotProject(t, "upgrade-breaking", "")
	latest := bp.repo + ":latest"
	bp.pushAs(bp.Bot("1.0.0"), latest)
	bp.setEnv("BOT_VERSION", "latest")
	bp.start()
	if bp.imageID(latest) != bp.v1ID {
		t.Fatalf("%s is not the running v1 image", latest)
	}
	before, _ := bp.data()
	bp.pushAs(bp.Bot("2.0.0"), latest) // the registry's :latest is now 2.0.0
	engineBefore := bp.engineState()
	filesBefore := testrig.TreeHash(t, bp.Dir)

	r := bp.maim("upgrade", "--stable-period", "3s")
	wantFail(t, r, 12, "breaking change", "bot", "--accept-breaking")
	if !strings.Contains(r.Stdout, "Breaking changes (refused without --accept-breaking):") {
		t.Errorf("the refusal does not show the plan's breaking findings: %s", r)
	}
	wantSameEngine(t, engineBefore, bp.engineState())
	if got := bp.imageID(latest); got != bp.v1ID {
		t.Errorf("after the refusal %s is %s, want it back on v1 %s", latest, got, bp.v1ID)
	}
	if testrig.TreeHash(t, bp.Dir) != filesBefore {
		t.Errorf("the refused upgrade changed the project files")
	}
	if rows := bp.backups(); len(rows) != 0 {
		t.Errorf("the refused upgrade left backups: %+v", rows)
	}
	if st := bp.status(); st.LastUpgrade == nil || st.LastUpgrade.Result != "refused" || st.Interrupted != nil {
		t.Errorf("status after the refusal: %+v", st.LastUpgrade)
	}

	r = bp.maim("upgrade", "--accept-breaking", "--reset-data", "botdata", "--stable-period", "3s", "--timeout", "2m")
	id := upgraded(t, r, bp.Name, latest+" (1.0.0)", latest+" (2.0.0)")
	bp.wantBot("2.0.0")
	_, dir := bp.data()
	if d := readDataJSON(t, dir); d.Schema != 2 || d.CreatedBy != "2.0.0" || len(d.Migrations) != 0 {
		t.Errorf("--reset-data: v2 did not start on empty data: data.json %+v", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "user")); err == nil {
		t.Errorf("--reset-data: the user's files are still in the volume")
	}
	if got := dataOf(t, bp.extractSource(id, "botdata")); got != before {
		t.Errorf("the backup of the reset source is not the data before the upgrade")
	}

	mustOK(t, bp.maim("rollback", "--no-safety-backup", "--stable-period", "3s", "--timeout", "2m"))
	if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
		t.Errorf("after the rollback the bot runs %s, want %s", c.Image, bp.v1ID)
	}
	if got := bp.imageID(latest); got != bp.v1ID {
		t.Errorf("after the rollback %s is %s, want v1 %s", latest, got, bp.v1ID)
	}
	after, _ := bp.data()
	wantRestored(t, "rollback after --reset-data", before, after, "1.0.0")
}

// TestUpgradeDryRun: --dry-run prints the plan and changes nothing in the engine
// (containers, their IDs and states, volumes, local tags) or in the files; --format json
// gives the plan as data.
func TestUpgradeDryRun(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "upgrade-dry-run", "")
	bp.setEnv("BOT_VERSION", "2.0.0")
	engineBefore := bp.engineState()
	filesBefore := testrig.TreeHash(t, bp.Dir)
	dataBefore, _ := bp.data()

	r := mustOK(t, bp.maim("upgrade", "--dry-run"))
	for _, want := range []string{
		"Plan for project " + bp.Name,
		bp.repo + ":1.0.0", bp.repo + ":2.0.0",
		"botdata", "./config",
		"Config files to merge:", "bot_config.toml", "+platform = \"qq\"", "-ban_words",
		"Breaking changes (refused without --accept-breaking):",
		"Expected downtime:",
		"dry run: nothing was changed",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the dry run does not show %q: %s", want, r)
		}
	}
	r = mustOK(t, bp.maim("upgrade", "--dry-run", "--accept-breaking", "--format", "json"))
	var res struct {
		Outcome string `json:"outcome"`
		Plan    struct {
			Project  string `json:"project"`
			Services []struct {
				Service    string `json:"service"`
				OldRef     string `json:"old_ref"`
				OldID      string `json:"old_id"`
				OldVersion string `json:"old_version"`
				NewRef     string `json:"new_ref"`
				NewID      string `json:"new_id"`
				NewDigests []string
				NewVersion string `json:"new_version"`
			} `json:"services"`
			Breaking []struct{ Service, Reason string } `json:"breaking"`
			Sources  []struct {
				Name  string `json:"name"`
				Bytes int64  `json:"bytes"`
			} `json:"sources"`
			Merges []struct {
				File    string `json:"file"`
				Changed bool   `json:"changed"`
				Diff    string `json:"diff"`
			} `json:"config_merges"`
			NothingToDo bool  `json:"nothing_to_do"`
			Downtime    int64 `json:"expected_downtime_ns"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("--dry-run --format json: %v\n%s", err, r)
	}
	p := res.Plan
	if res.Outcome != "dry-run" || p.Project != bp.Name || p.NothingToDo || p.Downtime <= 0 {
		t.Errorf("dry-run JSON: %+v", res)
	}
	if len(p.Services) != 1 || p.Services[0].Service != "bot" || p.Services[0].OldRef != bp.repo+":1.0.0" ||
		p.Services[0].NewRef != bp.repo+":2.0.0" || p.Services[0].OldVersion != "1.0.0" || p.Services[0].NewVersion != "2.0.0" ||
		p.Services[0].OldID != bp.v1ID || p.Services[0].NewID == "" || p.Services[0].NewID == bp.v1ID {
		t.Errorf("dry-run JSON services: %+v", p.Services)
	}
	if len(p.Breaking) == 0 || p.Breaking[0].Service != "bot" {
		t.Errorf("dry-run JSON breaking: %+v", p.Breaking)
	}
	var names []string
	for _, s := range p.Sources {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "./config,botdata,file:.env,file:compose.yaml" {
		t.Errorf("dry-run JSON sources: %v", names)
	}
	if len(p.Merges) != 1 || !strings.HasSuffix(p.Merges[0].File, "/config/bot_config.toml") || !p.Merges[0].Changed || !strings.Contains(p.Merges[0].Diff, "+platform") {
		t.Errorf("dry-run JSON config merges: %+v", p.Merges)
	}

	wantSameEngine(t, engineBefore, bp.engineState())
	if testrig.TreeHash(t, bp.Dir) != filesBefore {
		t.Errorf("the dry run changed the project files")
	}
	if dataAfter, _ := bp.data(); dataAfter != dataBefore {
		t.Errorf("the dry run changed the data")
	}
	if rows := bp.backups(); len(rows) != 0 {
		t.Errorf("the dry run made backups: %+v", rows)
	}

	// Refused (breaking, no --accept-breaking): the pulled 2.0.0 tag goes away again too.
	wantFail(t, bp.maim("upgrade", "--stable-period", "3s"), 12, "breaking change")
	wantSameEngine(t, engineBefore, bp.engineState())

	// A config that does not parse stops the upgrade before anything stops (issue 4).
	bad := strings.Replace(userConfig, "qq_account = 987654", "qq_account = = 987654", 1)
	bp.WriteFile("config/bot_config.toml", bad)
	filesBad := testrig.TreeHash(t, bp.Dir)
	wantFail(t, bp.maim(upgradeArgs...), 12, "refused", "config/bot_config.toml:12:14:")
	wantSameEngine(t, engineBefore, bp.engineState())
	if testrig.TreeHash(t, bp.Dir) != filesBad {
		t.Errorf("the upgrade with a broken config changed the project files")
	}
	if rows := bp.backups(); len(rows) != 0 {
		t.Errorf("the upgrade with a broken config made backups: %+v", rows)
	}
}

// TestUpgradeNothingToDo: when no image changed the upgrade says so and changes nothing;
// --force runs the whole transaction anyway.
func TestUpgradeNothingToDo(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "upgrade-nothing", "")
	engineBefore := bp.engineState()
	before, _ := bp.data()

	r := mustOK(t, bp.maim("upgrade", "--stable-period", "3s"))
	if !strings.Contains(r.Stdout, "nothing to upgrade") {
		t.Errorf("no 'nothing to upgrade': %s", r)
	}
	wantSameEngine(t, engineBefore, bp.engineState())
	if rows := bp.backups(); len(rows) != 0 {
		t.Errorf("nothing to do, yet backups: %+v", rows)
	}

	oldID := bp.containers()["bot"].ID
	r = bp.maim("upgrade", "--force", "--stable-period", "3s", "--timeout", "2m")
	id := upgraded(t, r, bp.Name, "", "")
	c := bp.wantBot("1.0.0")
	if c.ID == oldID || c.Image != bp.v1ID {
		t.Errorf("--force did not recreate the bot on its image (container %s, was %s; image %s)", c.ID, oldID, c.Image)
	}
	if m := bp.manifest(id); m.Reason != "upgrade" {
		t.Errorf("--force backup reason %q", m.Reason)
	}
	after, _ := bp.data()
	wantRestored(t, "--force", before, after, "1.0.0")
}
