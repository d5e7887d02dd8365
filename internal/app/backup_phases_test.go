package app

import (
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/snapshot"
)

// TestBackupPhasesApply checks which of the backup verb's phases run for each way of
// backing up, and that none names a journal phase (the verb keeps no journal).
func TestBackupPhasesApply(t *testing.T) {
	for _, ph := range backupPhases {
		if ph.Journal != "" {
			t.Errorf("phase %s names journal phase %q; the backup verb keeps no journal", ph.Name, ph.Journal)
		}
	}
	cases := []struct {
		name string
		t    *btxn
		want string // the phases that run
	}{
		{"two-pass", &btxn{twoPass: true}, "plan backup-hot stop backup start"},
		{"one-pass", &btxn{}, "plan stop backup start"},
		{"no-stop", &btxn{twoPass: true, opts: snapshot.BackupOptions{NoStop: true}}, "plan backup start"},
		{"two-pass, nothing runs", &btxn{twoPass: true, idle: true}, "plan backup-hot backup start"},
	}
	for _, c := range cases {
		var run []string
		for _, pp := range journal.DescribePhases(backupPhases, c.t) {
			if !pp.Skipped {
				run = append(run, pp.Name)
			}
		}
		if got := strings.Join(run, " "); got != c.want {
			t.Errorf("%s: phases run %q, want %q", c.name, got, c.want)
		}
	}
}
