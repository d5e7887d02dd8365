package stack

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/journal"
)

// ForJournal resolves from the backup dir the interrupted operation used.
func TestForJournalUsesTheJournalsBackupDir(t *testing.T) {
	here := backup.Local(filepath.Join(t.TempDir(), "b"))
	there := t.TempDir()
	m := &Env{Store: here}
	if got, err := m.ForJournal(&journal.Journal{Op: "upgrade", Phase: journal.PhaseHealth, BackupDir: here.Location()}); err != nil || got != m {
		t.Errorf("same dir: %v, %v", got, err)
	}
	got, err := m.ForJournal(&journal.Journal{Op: "upgrade", Phase: journal.PhaseHealth, BackupDir: there})
	if err != nil || got.Store.Location() != there || m.Store.Location() != here.Location() {
		t.Fatalf("other dir: %+v, %v", got, err)
	}
	gone := filepath.Join(there, "gone")
	_, err = m.ForJournal(&journal.Journal{Op: "upgrade", Phase: journal.PhaseHealth, BackupID: "20261125T221530Z", BackupDir: gone})
	if err == nil || !strings.Contains(err.Error(), gone) || !strings.Contains(err.Error(), "20261125T221530Z") {
		t.Errorf("a gone dir after data changed = %v, want an error naming it and the backup", err)
	}
	if got, err := m.ForJournal(&journal.Journal{Op: "upgrade", Phase: journal.PhaseBackingUp, BackupDir: gone}); err != nil || got != m {
		t.Errorf("a gone dir before anything changed = %v, %v", got, err)
	}
}
