package upgrade

import (
	"os"
	"reflect"
	"strings"
	"testing"
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
