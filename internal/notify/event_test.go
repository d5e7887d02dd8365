package notify

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/docker-maim/docker-maim/internal/api"
)

// TestEventsSayWhatWhichBackupAndWhatNext: each outcome's message names the project, what
// happened and why, the backup, and the command to run next; what is sent only on
// success is not a failure; a dry run sends nothing.
func TestEventsSayWhatWhichBackupAndWhatNext(t *testing.T) {
	cause := errors.New("core failed its health gate: exited 1")
	plan := &api.Plan{Project: "maibot", Changes: []api.ImageChange{{Service: "core", OldRef: "mai:1", OldID: "sha256:1", NewRef: "mai:2", NewID: "sha256:2"}}}
	for _, c := range []struct {
		name   string
		ev     Event
		failed bool
		want   []string
	}{
		{"rolled back", Upgrade("", false, &api.UpgradeResult{Plan: plan, Outcome: api.OutcomeRolledBack, BackupID: "B1"},
			&api.UpgradeError{Outcome: api.OutcomeRolledBack, Cause: cause}), true,
			[]string{"upgrade of maibot rolled back: core failed its health gate: exited 1\n", "Backup: B1 (", "Tried: core: mai:1 -> mai:2\n", "Next: docker maim -p maibot status\n"}},
		{"rollback failed", Upgrade("maibot", false, &api.UpgradeResult{Plan: plan, Outcome: api.OutcomeRollbackFailed, BackupID: "B1", Recovery: []string{"docker maim -p maibot rollback B1"}},
			&api.UpgradeError{Outcome: api.OutcomeRollbackFailed, Cause: cause, Rollback: errors.New("disk full")}), true,
			[]string{"upgrade of maibot failed and its rollback failed too: core failed", "Rollback: disk full", "Backup: B1", "Next: docker maim -p maibot rollback B1\n"}},
		{"failed, no auto rollback", Upgrade("maibot", false, &api.UpgradeResult{Plan: plan, Outcome: api.OutcomeFailed, BackupID: "B1"},
			&api.UpgradeError{Outcome: api.OutcomeFailed, Cause: cause}), true,
			[]string{"NOT returned to its previous state", "Next: docker maim -p maibot rollback\n", "Next: docker maim -p maibot status\n"}},
		{"refused", Upgrade("maibot", false, &api.UpgradeResult{Plan: plan, Outcome: api.OutcomeRefused}, &api.UpgradeError{Outcome: api.OutcomeRefused, Cause: errors.New("breaking change")}), true,
			[]string{"upgrade of maibot refused: nothing was changed: breaking change", "docker maim -p maibot upgrade --dry-run"}},
		{"before it began", Upgrade("maibot", false, nil, api.ErrLocked), true,
			[]string{"upgrade of maibot failed before it began: ", "Next: docker maim -p maibot status"}},
		{"upgraded", Upgrade("maibot", false, &api.UpgradeResult{Plan: plan, Outcome: api.OutcomeUpgraded, BackupID: "B2"}, nil), false,
			[]string{"upgrade of maibot done\n", "Backup: B2", "core: mai:1 -> mai:2", "docker maim -p maibot rollback (to go back)"}},
		{"backup failed", Backup("bot", nil, errors.New("no space left on device")), true,
			[]string{"backup of bot failed: no space left on device\n", "Next: docker maim -p bot status"}},
		{"backup done", Backup("bot", &api.BackupResult{ID: "B3", Project: "bot"}, nil), false,
			[]string{"backup of bot done\n", "Backup: B3\n", "docker maim -p bot restore B3"}},
		{"restore failed, put back", Restore("bot", &api.RestoreResult{Project: "bot", BackupID: "B3", SafetyID: "S1"}, &api.RestoreError{Cause: cause}), true,
			[]string{"restore of bot failed: core failed", "Backup: B3", "Safety backup: S1", "Next: docker maim -p bot status"}},
		{"restore failed, left stopped", Restore("bot", nil, &api.RestoreError{Cause: cause, LeftStopped: []string{"core"}, Recovery: []string{"docker maim -p bot restore S1"}}), true,
			[]string{"restore of bot failed and left the project stopped: core failed", "Next: docker maim -p bot restore S1"}},
		{"restore done", Restore("bot", &api.RestoreResult{Project: "bot", BackupID: "B3", SafetyID: "S1"}, nil), false,
			[]string{"restore of bot done", "Backup: B3", "docker maim -p bot rollback S1 (to undo it)"}},
		{"rollback failed", Rollback("bot", "B3", nil, cause), true,
			[]string{"rollback of bot failed: core failed", "Backup: B3", "Next: docker maim -p bot status"}},
		{"rolled back", Rollback("bot", "", &api.RollbackResult{Project: "bot", RollbackReport: &api.RollbackReport{BackupID: "B3", SafetyID: "S2", Resolved: "upgrade"}}, nil), false,
			[]string{"bot rolled back\n", "Backup: B3", "Resolved the interrupted upgrade", "Safety backup: S2"}},
		{"remote copy failed", RemoteCopy("bot", api.RemoteCopy{Remote: "s3://bk/maim", BackupID: "B4", Error: "dial tcp 127.0.0.1:9: connection refused"}), true,
			[]string{"remote copy failed: backup of bot is on this host only: dial tcp", "Backup: B4 (complete and verified", "Remote: s3://bk/maim", "Next: docker maim -p bot backups --remote s3://bk/maim"}},
		{"remote copy done", RemoteCopy("bot", api.RemoteCopy{Remote: "s3://bk/maim", BackupID: "B4", Copied: true}), false,
			[]string{"backup of bot copied to s3://bk/maim", "Backup: B4"}},
	} {
		if c.ev.Failed != c.failed {
			t.Errorf("%s: Failed %v", c.name, c.ev.Failed)
		}
		text := c.ev.Text()
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the message lacks %q:\n%s", c.name, w, text)
			}
		}
		if title := c.ev.Title("vps1"); !strings.HasPrefix(title, "docker-maim on vps1: ") || strings.Contains(title, "\n") {
			t.Errorf("%s: title %q", c.name, title)
		}
	}
	if !Upgrade("maibot", true, nil, errors.New("engine down")).Empty() || !Upgrade("maibot", false, &api.UpgradeResult{Plan: plan, Outcome: api.OutcomeDryRun}, nil).Empty() {
		t.Errorf("a dry run has an event")
	}
}

// TestEventRedactsTheCause: a secret in an error's text (an env value the failure quotes)
// is not sent.
func TestEventRedactsTheCause(t *testing.T) {
	key := "sk-proj-" + strings.Repeat("aB3dE5fG7h", 5)
	ev := Backup("bot", nil, fmt.Errorf("hook failed: OPENAI_API_KEY=%s rejected", key))
	if strings.Contains(ev.Text(), key) {
		t.Errorf("the message shows the key: %s", ev.Text())
	}
}

// TestEventCutsALongCause: a long failure text fits the services' limits.
func TestEventCutsALongCause(t *testing.T) {
	ev := Backup("bot", nil, errors.New(strings.Repeat("é", 2000)))
	if len(ev.Why) > maxWhy+len(" …") || !strings.HasSuffix(ev.Why, " …") || !utf8.ValidString(ev.Why) {
		t.Errorf("cause of %d bytes: %q...", len(ev.Why), ev.Why[:20])
	}
}
