package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStateSharedAcrossBackupDirs: the lock and the journal live in the state dir, not in
// the backup dir. An upgrade run with --backup-dir A is killed once its backup is complete;
// with --backup-dir B, status still reports it (naming A as where its backup is) and
// upgrade refuses; a rollback run with --backup-dir B holds the project's lock, seen by a
// backup with --backup-dir A (exit 4), and resolves the upgrade from A's backup: v1 again
// with the data and files as before, the safety backup beside it in A, nothing in B.
// Before the state dir, B saw no journal (status clean, upgrade ran) and no lock.
func TestStateSharedAcrossBackupDirs(t *testing.T) {
	t.Parallel()
	c := prepareCrash(newBotProject(t, "statedir", ""))
	dirA, dirB := filepath.Join(c.Root, "backups-a"), filepath.Join(c.Root, "backups-b")
	inA := func(args ...string) []string { return append([]string{"--backup-dir", dirA}, args...) }
	inB := func(args ...string) []string { return append([]string{"--backup-dir", dirB}, args...) }

	wantKilled(t, c.maimWith([]string{"MAIM_FAILPOINT=upgrade:backed-up"}, inA(upgradeArgs...)...))
	if _, err := os.Stat(c.journalPath()); err != nil {
		t.Fatalf("no journal in the state dir: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dirA, c.Name, "*.json*")); len(leftovers) != 0 {
		t.Errorf("journal or history in the backup dir: %v", leftovers)
	}

	// B sees the interrupted upgrade and where its backup is.
	r := mustOK(t, c.maim(inB("status")...))
	if !strings.Contains(r.Stdout, `INTERRUPTED: upgrade stopped in phase "backed-up"`) {
		t.Errorf("status with another backup dir does not report the interrupted upgrade: %s", r)
	}
	r = mustOK(t, c.maim(inB("status", "--format", "json")...))
	var st struct {
		Interrupted *struct {
			BackupID  string `json:"backup_id"`
			BackupDir string `json:"backup_dir"`
		} `json:"interrupted"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &st))
	if st.Interrupted == nil || st.Interrupted.BackupID == "" || st.Interrupted.BackupDir != dirA {
		t.Fatalf("status --format json with another backup dir: %+v, want the backup in %s\n%s", st.Interrupted, dirA, r)
	}
	id := st.Interrupted.BackupID
	if _, err := os.Stat(filepath.Join(dirA, c.Name, id, "manifest.json")); err != nil {
		t.Fatalf("the upgrade's backup %s is not complete in %s: %v", id, dirA, err)
	}
	wantFail(t, c.maim(inB(upgradeArgs...)...), 12, "interrupted", "backed-up", "docker maim rollback")

	// The rollback run with B holds the lock: a command with A is refused.
	fp := filepath.Join(t.TempDir(), "failpoint")
	run := c.maimStart([]string{"MAIM_FAILPOINT=upgrade:rolling-back:wait", "MAIM_FAILPOINT_FILE=" + fp}, inB(rollbackArgs...)...)
	waitFailpoint(t, run, fp, 3*time.Minute)
	for _, args := range [][]string{inA("backup"), {"verify", id}} {
		wantFail(t, c.maim(args...), 4, c.Name, "in use by another docker-maim command", "rollback")
	}
	must(t, os.Remove(fp))
	r = run.wait(t, 5*time.Minute)
	if r.Code != 0 {
		t.Fatalf("rollback with another backup dir: %s", r)
	}
	if !strings.Contains(r.Stdout, "resolved the interrupted upgrade in phase backed-up") || !strings.Contains(r.Stderr, dirA) {
		t.Errorf("rollback does not say what it resolved and from where: %s", r)
	}
	c.wantBackToV1(t, "rollback with another backup dir")
	c.wantSettled(t)

	// Everything went through A: the upgrade's backup and the rollback's safety backup.
	if rows := parseRows(t, mustOK(t, c.maim(inB("backups", "--format", "json")...))); len(rows) != 0 {
		t.Errorf("backups in B: %+v", rows)
	}
	rows := parseRows(t, mustOK(t, c.maim(inA("backups", "--format", "json")...)))
	reasons := map[string]string{}
	for _, row := range rows {
		reasons[row.ID] = row.Reason
	}
	if len(rows) != 2 || reasons[id] != "upgrade" || !slices.Contains(slices.Collect(maps.Values(reasons)), "pre-rollback") {
		t.Errorf("backups in A: %+v, want %s and the pre-rollback safety backup", rows, id)
	}
}

// TestStateMigratesOldJournal: a journal an older docker-maim left in
// <backup-dir>/<project>/journal.json (no backup_dir in it) is moved to the state dir by
// the next command, so the upgrade it interrupted is still reported and rolled back.
func TestStateMigratesOldJournal(t *testing.T) {
	t.Parallel()
	c := prepareCrash(newBotProject(t, "statedir-old", ""))
	wantKilled(t, c.maimWith([]string{"MAIM_FAILPOINT=upgrade:backed-up"}, upgradeArgs...))

	// Make it look like an older docker-maim's: in the backup dir, without backup_dir.
	b, err := os.ReadFile(c.journalPath())
	must(t, err)
	var jr map[string]any
	must(t, json.Unmarshal(b, &jr))
	delete(jr, "backup_dir")
	b, err = json.Marshal(jr)
	must(t, err)
	old := filepath.Join(c.BackupDir, c.Name, "journal.json")
	must(t, os.WriteFile(old, b, 0o600))
	must(t, os.Remove(c.journalPath()))

	wantInterrupted(t, c.project, "upgrade", "backed-up")
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the old journal is still in the backup dir: %v", err)
	}
	if _, err := os.Stat(c.journalPath()); err != nil {
		t.Errorf("the old journal was not moved to the state dir: %v", err)
	}
	r := mustOK(t, c.maim(rollbackArgs...))
	if !strings.Contains(r.Stdout, "resolved the interrupted upgrade in phase backed-up") {
		t.Errorf("rollback does not say what it resolved: %s", r)
	}
	c.wantBackToV1(t, "rollback of an old journal")
	c.wantSettled(t)
}
