package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
)

// remoteRow is a backups row with where it lives.
type remoteRow struct {
	ID        string   `json:"id"`
	Reason    string   `json:"reason"`
	Status    string   `json:"status"`
	Locations []string `json:"locations"`
}

// remoteRows is `backups --format json` with args.
func (p *project) remoteRows(args ...string) map[string]remoteRow {
	p.t.Helper()
	r := mustOK(p.t, p.maim(append([]string{"backups", "--format", "json"}, args...)...))
	var doc struct {
		Backups []remoteRow `json:"backups"`
	}
	must(p.t, json.Unmarshal([]byte(r.Stdout), &doc))
	out := map[string]remoteRow{}
	for _, row := range doc.Backups {
		out[row.ID] = row
	}
	return out
}

// remoteHas tells whether the remote directory holds a complete copy of backup id.
func remoteHas(t testing.TB, remote, project, id string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(remote, project, id, "manifest.json"))
	return err == nil
}

// TestRemoteRestoreAndRollbackAfterTheBackupDirIsLost is issue 20's end to end: a project
// backed up and upgraded with --remote (a directory: a NAS or USB mount), its backup dir
// deleted, then restored and rolled back from the remote byte for byte.
func TestRemoteRestoreAndRollbackAfterTheBackupDirIsLost(t *testing.T) {
	t.Parallel()
	fp := newFullProject(t, "remote-restore")
	remote := filepath.Join(t.TempDir(), "nas")
	// Stopped, so that nothing writes between the backup and the comparison (the bot
	// appends to starts.log whenever it starts).
	compose(t, fp.project, "stop")
	want := treediff.Of(t, fp.vol)
	r := mustOK(t, fp.maim("backup", "--remote", remote))
	id := backupID(t, r)
	if !strings.Contains(r.Stdout, "backup "+id+" copied to "+remote) || !remoteHas(t, remote, fp.Name, id) {
		t.Fatalf("backup was not copied to %s: %s", remote, r)
	}
	if row := fp.remoteRows("--remote", remote)[id]; strings.Join(row.Locations, "+") != "local+remote" {
		t.Errorf("backups --remote: %s lives in %v, want local and remote", id, row.Locations)
	}

	// The host's backups are lost; the data is damaged.
	must(t, os.RemoveAll(fp.BackupDir))
	damage(t, fp.vol)
	if row := fp.remoteRows("--remote", remote)[id]; strings.Join(row.Locations, "+") != "remote" {
		t.Errorf("backups --remote after the loss: %s lives in %v, want remote only", id, row.Locations)
	}
	if v := mustOK(t, fp.maim("verify", "--remote", remote, id)); !strings.Contains(v.Stdout, "intact on the remote") {
		t.Errorf("verify --remote: %s", v)
	}
	rr := mustOK(t, fp.maim("restore", "--remote", remote))
	if !strings.Contains(rr.Stdout, "backup "+id+" fetched from "+remote+" (not in the local backup dir") || !strings.Contains(rr.Stdout, "from backup "+id) {
		t.Errorf("restore did not say it fetched %s from the remote: %s", id, rr)
	}
	treediff.AssertSame(t, want, treediff.Of(t, fp.vol), treediff.Options{})
	// The restore's safety backup went to the remote too.
	safety := safetyLine.FindStringSubmatch(rr.Stdout)
	if safety == nil || !remoteHas(t, remote, fp.Name, safety[1]) {
		t.Errorf("the restore's safety backup is not on the remote: %s", rr)
	}
}

// TestRemoteRollbackAfterTheBackupDirIsLost: an upgrade with --remote leaves its backup
// off the host; with the backup dir gone, rollback fetches it and puts v1 and its data back.
func TestRemoteRollbackAfterTheBackupDirIsLost(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "remote-rollback", "")
	remote := filepath.Join(t.TempDir(), "nas")
	before, _ := bp.data()
	configBefore := bp.fileBytes("config/bot_config.toml")
	bp.setEnv("BOT_VERSION", "2.0.0")
	r := bp.maim(append(upgradeArgs, "--remote", remote)...)
	id := upgraded(t, r, bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	if !strings.Contains(r.Stdout, "backup "+id+" copied to "+remote) || !remoteHas(t, remote, bp.Name, id) {
		t.Fatalf("the upgrade's backup was not copied: %s", r)
	}
	must(t, os.RemoveAll(bp.BackupDir))
	bp.setEnv("BOT_VERSION", "1.0.0")
	rr := mustOK(t, bp.maim("rollback", "--remote", remote, "--stable-period", "3s", "--timeout", "2m"))
	if !strings.Contains(rr.Stdout, "backup "+id+" fetched from "+remote) || !strings.Contains(rr.Stdout, "rolled back to backup "+id) {
		t.Errorf("rollback did not fetch and use %s: %s", id, rr)
	}
	if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
		t.Errorf("after the rollback the bot runs %s, want %s", c.Image, bp.v1ID)
	}
	rolled, _ := bp.data()
	wantRestored(t, "rollback from the remote", before, rolled, "1.0.0")
	if got := bp.fileBytes("config/bot_config.toml"); got != configBefore {
		t.Errorf("rollback from the remote did not put the config back byte for byte:\n%s", got)
	}
}

// TestRemoteUnreachable: a remote that cannot be written keeps the local backup, warns,
// notifies and exits 13; with --require-remote an upgrade is refused before anything stops.
func TestRemoteUnreachable(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "remote-down", "")
	wh := newWebhook(t)
	remote := unreachableRemote(t)
	r := bp.maim("backup", "--remote", remote, "--notify", wh.url())
	if r.Code != 13 || !strings.Contains(r.Stderr, "on this host only") {
		t.Fatalf("backup with an unreachable remote: want exit 13 and a warning: %s", r)
	}
	id := backupID(t, r)
	if row, ok := rowByID(bp.backups(), id); !ok || row.Status != "complete" {
		t.Errorf("the local backup %s is not complete: %+v", id, row)
	}
	msgs := strings.Join(wh.take(), "\n")
	if !strings.Contains(msgs, "remote copy failed: backup of "+bp.Name+" is on this host only") || !strings.Contains(msgs, "Backup: "+id) {
		t.Errorf("no remote-copy-failed notification: %q", msgs)
	}

	before := bp.containers()
	n := len(bp.backups())
	bp.setEnv("BOT_VERSION", "2.0.0")
	r = bp.maim(append(upgradeArgs, "--remote", remote, "--require-remote")...)
	if r.Code != 13 || !strings.Contains(r.Stderr, "--require-remote") {
		t.Fatalf("upgrade --require-remote with an unreachable remote: want exit 13 before anything stops: %s", r)
	}
	after := bp.containers()
	if !after["bot"].State.Running || after["bot"].State.StartedAt != before["bot"].State.StartedAt || after["bot"].Image != bp.v1ID {
		t.Errorf("the refused upgrade touched the bot: %+v", after["bot"].State)
	}
	if got := len(bp.backups()); got != n {
		t.Errorf("the refused upgrade made a backup (%d, was %d)", got, n)
	}
}

// unreachableRemote is a remote no one can write: a directory below a regular file (until
// an S3 server is in the rig: then a closed port).
func unreachableRemote(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "not-a-dir")
	must(t, os.WriteFile(f, nil, 0o600))
	return filepath.Join(f, "nas")
}

// TestRemotePruneKeepsTheRollbacksBackup: prune --remote applies the same rule to the
// remote, and the upgrade's backup a rollback needs stays there.
func TestRemotePruneKeepsTheRollbacksBackup(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "remote-prune", "")
	remote := filepath.Join(t.TempDir(), "nas")
	bp.setEnv("BOT_VERSION", "2.0.0")
	up := upgraded(t, bp.maim(append(upgradeArgs, "--remote", remote)...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	var manual []string
	for range 3 {
		manual = append(manual, backupID(t, mustOK(t, bp.maim("backup", "--remote", remote))))
	}
	r := mustOK(t, bp.maim("prune", "--keep", "1", "--remote", remote))
	if !strings.Contains(r.Stdout, "on the remote:") {
		t.Errorf("prune --remote says nothing of the remote: %s", r)
	}
	for _, id := range []string{up, manual[2]} {
		if !remoteHas(t, remote, bp.Name, id) {
			t.Errorf("prune removed %s from the remote: %s", id, r)
		}
	}
	for _, id := range manual[:2] {
		if remoteHas(t, remote, bp.Name, id) {
			t.Errorf("prune --keep 1 kept %s on the remote: %s", id, r)
		}
	}
}
