package upgrade

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

func TestRecoveryCommands(t *testing.T) {
	with := recoveryCommands("demo", &Journal{BackupID: "20261125T221530Z"})
	want := []string{
		"docker maim -p demo status",
		"docker maim -p demo rollback 20261125T221530Z",
		"docker maim -p demo restore 20261125T221530Z --no-safety-backup   # data and files only, then: docker compose up -d",
	}
	if !reflect.DeepEqual(with, want) {
		t.Errorf("with a backup:\n%q\nwant\n%q", with, want)
	}
	without := recoveryCommands("demo", &Journal{})
	if len(without) != 2 || without[0] != "docker maim -p demo status" || !strings.HasPrefix(without[1], "docker maim -p demo rollback   #") {
		t.Errorf("without a backup: %q", without)
	}
	for _, c := range without {
		if strings.Contains(c, "restore") {
			t.Errorf("no backup, no restore: %q", c)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	cause := os.ErrDeadlineExceeded
	for _, c := range []struct {
		e    *Error
		want string
	}{
		{&Error{Outcome: OutcomeRolledBack, Cause: cause}, "upgrade failed and was rolled back: "},
		{&Error{Outcome: OutcomeRefused, Cause: cause}, "upgrade refused, nothing was changed: "},
		{&Error{Outcome: OutcomeFailed, Cause: cause}, "upgrade failed: "},
		{&Error{Outcome: OutcomeRollbackFailed, Cause: cause, Rollback: os.ErrPermission, Recovery: []string{"a", "b"}}, "to recover: a ; b"},
	} {
		if !strings.Contains(c.e.Error(), c.want) {
			t.Errorf("%s: %q does not contain %q", c.e.Outcome, c.e.Error(), c.want)
		}
		if c.e.Unwrap() != cause {
			t.Errorf("%s: Unwrap", c.e.Outcome)
		}
	}
}

func TestWithImagesLeavesTheOriginal(t *testing.T) {
	bot, db := types.ServiceConfig{Name: "bot"}, types.ServiceConfig{Name: "db"}
	bot.Image, db.Image = "bot:1", "db:1"
	p := &project.Project{Project: &types.Project{Name: "demo", Services: types.Services{"bot": bot, "db": db}}, EnvFiles: []string{"/x/.env"}}
	if withImages(p, nil) != p {
		t.Error("no overrides: the same project")
	}
	got := withImages(p, map[string]string{"bot": "bot:2"})
	if got.Services["bot"].Image != "bot:2" || got.Services["db"].Image != "db:1" || got.Name != "demo" || len(got.EnvFiles) != 1 {
		t.Errorf("withImages = %+v", got.Services)
	}
	if p.Services["bot"].Image != "bot:1" {
		t.Error("withImages changed the original project")
	}
}

func TestEnvFilesFor(t *testing.T) {
	m := &backup.Manifest{EnvFiles: []string{"/srv/demo/.env", "/srv/demo/prod.env", "/srv/demo/x.env"}}
	if got, want := envFilesFor(m), []string{"/srv/demo/prod.env", "/srv/demo/x.env"}; !reflect.DeepEqual(got, want) {
		t.Errorf("envFilesFor = %v, want %v", got, want)
	}
}

func TestPinRefAndSanitizeTag(t *testing.T) {
	if got := pinRef("demo", "bot", "20261125T221530Z-2"); got != "docker-maim/pin:demo.bot.20261125T221530Z-2" {
		t.Errorf("pinRef = %q", got)
	}
	if got := pinRef("my proj", "web/app:x", "20261125T221530Z"); got != "docker-maim/pin:my_proj.web_app_x.20261125T221530Z" {
		t.Errorf("pinRef with unsafe chars = %q", got)
	}
	for in, want := range map[string]string{"a-b_c.d": "a-b_c.d", "ä b": "__b", "x@y:z/w": "x_y_z_w", "": ""} {
		if got := sanitizeTag(in); got != want {
			t.Errorf("sanitizeTag(%q) = %q, want %q", in, got, want)
		}
	}
}

// forJournal resolves from the backup dir the interrupted operation used.
func TestForJournalUsesTheJournalsBackupDir(t *testing.T) {
	here := backup.Local(filepath.Join(t.TempDir(), "b"))
	there := t.TempDir()
	m := &Manager{Store: here}
	if got, err := m.forJournal(&Journal{Op: "upgrade", Phase: PhaseHealth, BackupDir: here.Location()}); err != nil || got != m {
		t.Errorf("same dir: %v, %v", got, err)
	}
	got, err := m.forJournal(&Journal{Op: "upgrade", Phase: PhaseHealth, BackupDir: there})
	if err != nil || got.Store.Location() != there || m.Store.Location() != here.Location() {
		t.Fatalf("other dir: %+v, %v", got, err)
	}
	gone := filepath.Join(there, "gone")
	_, err = m.forJournal(&Journal{Op: "upgrade", Phase: PhaseHealth, BackupID: "20261125T221530Z", BackupDir: gone})
	if err == nil || !strings.Contains(err.Error(), gone) || !strings.Contains(err.Error(), "20261125T221530Z") {
		t.Errorf("a gone dir after data changed = %v, want an error naming it and the backup", err)
	}
	if got, err := m.forJournal(&Journal{Op: "upgrade", Phase: PhaseBackingUp, BackupDir: gone}); err != nil || got != m {
		t.Errorf("a gone dir before anything changed = %v, %v", got, err)
	}
}

func TestShortID(t *testing.T) {
	if shortID("sha256:0123456789abcdef") != "0123456789ab" || shortID("abc") != "abc" {
		t.Error("shortID")
	}
}
