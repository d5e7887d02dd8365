package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// driftCompose is a user's compose file with the bot's tag written in it, comments around
// it and a fault switch: %s is the bot's repository, %s its tag, %s BOT_FAIL ("" for none;
// it applies to 2.0.0 only).
const driftCompose = `# 麦麦 — my deployment (comments must survive every command)
services:
  bot:
    # change the tag, then: docker maim upgrade
    image: %s:%s   # 版本
    restart: unless-stopped
    environment: {BOT_FAIL: "%s", BOT_FAIL_ON: "2.0.0"}
    volumes: [botdata:/bot/data]

volumes:
  botdata: {}   # the bot's memory
`

// driftProject is a running driftCompose project on 1.0.0 and its compose file's bytes.
type driftProject struct {
	*project
	repo, v1ID, before string
}

func newDriftProject(t *testing.T, name, fail string) *driftProject {
	t.Helper()
	p := newProject(t, name, "")
	repo := strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0")
	p.Bot("2.0.0")
	dp := &driftProject{project: p, repo: repo}
	p.WriteCompose(dp.compose("1.0.0", fail))
	compose(t, p, "up", "-d", "--wait")
	dp.v1ID = p.wantBot("1.0.0").Image
	dp.before = p.fileBytes("compose.yaml")
	return dp
}

func (dp *driftProject) compose(tag, fail string) string {
	return fmt.Sprintf(driftCompose, dp.repo, tag, fail)
}

// wantFile checks that the project file rel holds exactly want.
func (p *project) wantFile(what, rel, want string) {
	p.t.Helper()
	if got := p.fileBytes(rel); got != want {
		p.t.Errorf("%s: %s is not what it should be:\n--- got:\n%s--- want:\n%s", what, rel, got, want)
	}
}

// TestDriftEditedTagRollback: the user edits the tag 1.0.0 -> 2.0.0 and upgrades; the file
// names what runs (2.0.0) and a plain `docker compose up -d` changes nothing. `rollback`
// then edits the tag back: the file is the one before the user's edit byte for byte
// (comments kept), 1.0.0 runs, and `docker compose up -d` still changes nothing (before,
// it silently went to 2.0.0 again).
func TestDriftEditedTagRollback(t *testing.T) {
	t.Parallel()
	dp := newDriftProject(t, "drift-edited", "")
	edited := dp.compose("2.0.0", "")
	dp.WriteFile("compose.yaml", edited)

	upgraded(t, dp.maim(upgradeArgs...), dp.Name, dp.repo+":1.0.0", dp.repo+":2.0.0")
	dp.wantBot("2.0.0")
	dp.wantFile("after the upgrade", "compose.yaml", edited)
	dp.wantUpChangesNothing()

	r := mustOK(t, dp.maim(rollbackArgs...))
	want := fmt.Sprintf("edited compose.yaml:5: bot image %s:2.0.0 -> %s:1.0.0", dp.repo, dp.repo)
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("the rollback does not say %q: %s", want, r)
	}
	if c := dp.wantBot("1.0.0"); c.Image != dp.v1ID {
		t.Errorf("after the rollback the bot runs %s, want %s", c.Image, dp.v1ID)
	}
	dp.wantFile("after the rollback", "compose.yaml", dp.before)
	dp.wantUpChangesNothing()
	dp.wantBot("1.0.0")
}

// TestDriftEditedTagFailedUpgrade: the same edit, but 2.0.0 crash-loops: the upgrade rolls
// back by itself (exit 10) and leaves the file naming 1.0.0 again, so `docker compose up -d`
// does not start the broken 2.0.0 behind the user's back.
func TestDriftEditedTagFailedUpgrade(t *testing.T) {
	t.Parallel()
	dp := newDriftProject(t, "drift-failed", "crash")
	dp.WriteFile("compose.yaml", dp.compose("2.0.0", "crash"))

	r := dp.maim(upgradeArgs...)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (failed and rolled back): %s", r)
	}
	want := fmt.Sprintf("edited compose.yaml:5: bot image %s:2.0.0 -> %s:1.0.0", dp.repo, dp.repo)
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("the upgrade's output does not say %q: %s", want, r)
	}
	if c := dp.wantBot("1.0.0"); c.Image != dp.v1ID {
		t.Errorf("after the rollback the bot runs %s, want %s", c.Image, dp.v1ID)
	}
	dp.wantFile("after the automatic rollback", "compose.yaml", dp.before)
	dp.wantUpChangesNothing()
	dp.wantNoJournal()
}

// TestDriftImageFlag: `upgrade --image bot=...:2.0.0` plans the edit of compose.yaml:5,
// writes it after the backup (which keeps the file before it), so `docker compose up -d`
// does not downgrade onto the migrated data; `rollback` puts the file back byte for byte.
func TestDriftImageFlag(t *testing.T) {
	t.Parallel()
	dp := newDriftProject(t, "drift-image", "")
	ref := dp.repo + ":2.0.0"
	edit := fmt.Sprintf("compose.yaml:5: bot image %s:1.0.0 -> %s", dp.repo, ref)

	r := mustOK(t, dp.maim("upgrade", "--dry-run", "--accept-breaking", "--image", "bot="+ref))
	if !strings.Contains(r.Stdout, "File edits (written after the backup") || !strings.Contains(r.Stdout, "  "+edit+"\n") {
		t.Errorf("the plan does not show the edit %q: %s", edit, r)
	}
	r = mustOK(t, dp.maim("upgrade", "--dry-run", "--accept-breaking", "--format", "json", "--image", "bot="+ref))
	var res struct {
		Plan struct {
			FileEdits []struct {
				Services []string `json:"services"`
				File     string   `json:"file"`
				Line     int      `json:"line"`
				What     string   `json:"what"`
				Old, New string
			} `json:"file_edits"`
		} `json:"plan"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	if fe := res.Plan.FileEdits; len(fe) != 1 || fe[0].File != dp.Path("compose.yaml") || fe[0].Line != 5 || fe[0].What != "image" ||
		fe[0].Old != dp.repo+":1.0.0" || fe[0].New != ref || len(fe[0].Services) != 1 || fe[0].Services[0] != "bot" {
		t.Errorf("the JSON plan's file_edits: %+v", fe)
	}
	dp.wantFile("after the dry run", "compose.yaml", dp.before)

	r = dp.maim(append(append([]string{}, upgradeArgs...), "--image", "bot="+ref)...)
	id := upgraded(t, r, dp.Name, dp.repo+":1.0.0", ref)
	if !strings.Contains(r.Stdout, "edited "+edit+"\n") {
		t.Errorf("the upgrade does not say %q: %s", "edited "+edit, r)
	}
	dp.wantBot("2.0.0")
	dp.wantFile("after the upgrade", "compose.yaml", dp.compose("2.0.0", ""))
	dp.wantUpChangesNothing()
	dp.wantBot("2.0.0")
	if got, err := os.ReadFile(dp.extractSource(id, "file:compose.yaml")); err != nil || string(got) != dp.before {
		t.Errorf("the upgrade's backup does not hold the compose file before the edit (%v):\n%s", err, got)
	}

	mustOK(t, dp.maim(rollbackArgs...))
	if c := dp.wantBot("1.0.0"); c.Image != dp.v1ID {
		t.Errorf("after the rollback the bot runs %s, want %s", c.Image, dp.v1ID)
	}
	dp.wantFile("after the rollback", "compose.yaml", dp.before)
	dp.wantUpChangesNothing()
}

// TestDriftTagFromEnvFile: the tag comes from ${BOT_VERSION} in .env. An upgrade by edited
// .env and its rollback edit .env back; `upgrade --image` writes the new tag into .env (not
// into compose.yaml), and its rollback restores .env byte for byte. After every command
// `docker compose up -d` changes nothing.
func TestDriftTagFromEnvFile(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "drift-env", "# versions\n")
	composeBefore, envBefore := bp.fileBytes("compose.yaml"), bp.fileBytes(".env")

	bp.setEnv("BOT_VERSION", "2.0.0")
	upgraded(t, bp.maim(upgradeArgs...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	bp.wantUpChangesNothing()
	r := mustOK(t, bp.maim(rollbackArgs...))
	if want := `edited .env:1: variable BOT_VERSION "2.0.0" -> "1.0.0"`; !strings.Contains(r.Stdout, want) {
		t.Errorf("the rollback does not say %q: %s", want, r)
	}
	bp.wantBot("1.0.0")
	bp.wantFile("after the rollback", ".env", envBefore)
	bp.wantFile("after the rollback", "compose.yaml", composeBefore)
	bp.wantUpChangesNothing()

	r = bp.maim(append(append([]string{}, upgradeArgs...), "--image", "bot="+bp.repo+":2.0.0")...)
	upgraded(t, r, bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	if want := `edited .env:1: variable BOT_VERSION "1.0.0" -> "2.0.0"`; !strings.Contains(r.Stdout, want) {
		t.Errorf("the upgrade does not say %q: %s", want, r)
	}
	bp.wantFile("after upgrade --image", ".env", strings.Replace(envBefore, "BOT_VERSION=1.0.0", "BOT_VERSION=2.0.0", 1))
	bp.wantFile("after upgrade --image", "compose.yaml", composeBefore)
	bp.wantUpChangesNothing()
	bp.wantBot("2.0.0")

	mustOK(t, bp.maim(rollbackArgs...))
	bp.wantBot("1.0.0")
	bp.wantFile("after the rollback of --image", ".env", envBefore)
	bp.wantUpChangesNothing()
}

// TestDriftImageFlagSharedVariableRefused: two services take their tag from one .env
// variable, so `--image` for one of them cannot be written into the files without moving
// the other. Before, the upgrade ran and left the files naming 1.0.0 while 2.0.0 ran, and
// the next `docker compose up -d` went back to 1.0.0 onto migrated data. Now it is
// refused before anything changes: exit 12, the files, containers and images as they were.
func TestDriftImageFlagSharedVariableRefused(t *testing.T) {
	t.Parallel()
	p := newProject(t, "drift-shared", "")
	repo := strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0")
	p.Bot("2.0.0")
	p.WriteCompose(`services:
  web:
    image: ${REPO}:${APP_VERSION}
    restart: unless-stopped
  worker:
    image: ${REPO}:${APP_VERSION}   # the same release as web
    restart: unless-stopped
`)
	p.WriteFile(".env", "REPO="+repo+"\nAPP_VERSION=1.0.0\n")
	compose(t, p, "up", "-d", "--wait")
	composeBefore, envBefore := p.fileBytes("compose.yaml"), p.fileBytes(".env")
	before := p.containerIDs()

	r := p.maim("upgrade", "--image", "web="+repo+":2.0.0")
	wantFail(t, r, 12, "--image cannot be written into the compose files", "APP_VERSION")
	p.wantFile("after the refused upgrade", "compose.yaml", composeBefore)
	p.wantFile("after the refused upgrade", ".env", envBefore)
	if after := p.containerIDs(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("a refused upgrade changed the containers:\nbefore: %v\nafter:  %v", before, after)
	}
	p.wantService("web", "1.0.0")
	p.wantService("worker", "1.0.0")
	p.wantNoJournal()
	p.wantUpChangesNothing()
}
