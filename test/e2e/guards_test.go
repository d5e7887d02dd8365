package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/testrig"
)

// guardCompose is a bot whose data dir is the bind source ./data; the version comes from
// .env so that an upgrade has something to do.
const guardCompose = `services:
  bot:
    image: %s:${BOT_VERSION:-1.0.0}
    volumes: [./data:/bot/data]
`

// wantNoBackupIn fails when dir holds a backup of the project (a directory named like a
// backup ID, complete or not). The lock file a command takes may be there.
func wantNoBackupIn(t testing.TB, dir, projectName string) {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(dir, projectName))
	if err != nil {
		return
	}
	for _, de := range des {
		if backup.ValidID(de.Name()) {
			t.Errorf("a backup was written to %s: %s", dir, de.Name())
		}
	}
}

// TestBackupDirOverlapsSource: a backup dir that lies inside a bind source (given relative,
// or reached through a symlink) or holds one is refused by backup, restore, rollback and
// upgrade (exit 12) before anything stops: the engine reports the same containers, started
// at the same time, no backup is written, and the data and backups stay as they were.
// Before the guard resolved the dir, the relative and symlinked ones passed: the backup
// stopped the services and wrote into ./data, and a restore of ./data deleted the backups.
func TestBackupDirOverlapsSource(t *testing.T) {
	t.Parallel()
	p := newProject(t, "guard-backupdir", "")
	repo := strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0")
	p.Bot("1.1.0")
	p.WriteCompose(strings.ReplaceAll(guardCompose, "%s", repo))
	p.WriteFile(".env", "BOT_VERSION=1.0.0\n")
	p.WriteFile("data/user/notes.txt", "the user's notes\n")
	must(t, os.MkdirAll(p.Path("data/x"), 0o755))
	must(t, os.Symlink("./data/x", p.Path("bk")))
	compose(t, p, "up", "-d", "--wait")

	// A good backup in the usual dir, copied by hand into data/backups: what a restore or a
	// rollback through the relative dir would read (and, unguarded, delete).
	id := p.backup()
	compose(t, p, "up", "-d", "--wait") // recreates nothing: waits until the restarted bot is healthy
	inData := p.Path("data/backups")
	must(t, os.MkdirAll(filepath.Join(inData, p.Name), 0o700))
	copyTree(t, p.backupPath(id), filepath.Join(inData, p.Name, id))

	// the lock a refused command may take lives in <dir>/<project>: made beforehand here
	must(t, os.MkdirAll(p.Path("data/x/"+p.Name), 0o700))
	real, err := filepath.EvalSymlinks(p.Dir)
	must(t, err)

	engine := p.engineState()
	data := testrig.TreeHash(t, p.Path("data"), "starts.log", ".lock")

	// the same refusal, whatever the command
	wantRefused := func(what string, r Result, code int, want ...string) {
		t.Helper()
		t.Logf("%s: %s", what, lastLine(r.Stderr))
		wantFail(t, r, code, want...)
		wantSameEngine(t, engine, p.engineState())
		if got := testrig.TreeHash(t, p.Path("data"), "starts.log", ".lock"); got != data {
			t.Errorf("%s: the refused command changed ./data (a backup written there?)", what)
		}
		wantNoBackupIn(t, p.Path("data/x"), p.Name)
		if rows := p.backups(); len(rows) != 1 || rows[0].ID != id {
			t.Errorf("%s: backups in the usual dir: %+v, want only %s", what, rows, id)
		}
		p.wantNoJournal()
	}
	inside := "lies inside the data source ./data"
	upgradeTo := func(v string) { p.setEnv("BOT_VERSION", v) }

	wantRefused("backup, relative dir", p.maim("backup", "--backup-dir", "data/backups"), 1,
		inside, filepath.Join(real, "data", "backups"))
	wantRefused("restore, relative dir", p.maim("restore", id, "--backup-dir", "data/backups"), 1, inside)
	if _, err := os.Stat(filepath.Join(inData, p.Name, id, "manifest.json")); err != nil {
		t.Errorf("the backup in data/backups is gone: %v", err)
	}
	wantRefused("rollback, relative dir", p.maim("rollback", id, "--backup-dir", "data/backups"), 1, inside)
	upgradeTo("1.1.0")
	wantRefused("upgrade, relative dir", p.maim("upgrade", "--backup-dir", "data/backups"), 12, inside)

	upgradeTo("1.0.0")
	wantRefused("backup, symlinked dir", p.maim("backup", "--backup-dir", p.Path("bk")), 1,
		inside, filepath.Join(real, "data", "x"))
	wantRefused("backup, MAIM_BACKUP_DIR symlinked", p.maimEnvOnly([]string{"MAIM_BACKUP_DIR=bk"}, "backup"), 1, inside)
	upgradeTo("1.1.0")
	wantRefused("upgrade, symlinked dir", p.maim("upgrade", "--backup-dir", "bk"), 12, inside)

	// The backup dir is the project's parent: every source of the project lies in it.
	upgradeTo("1.0.0")
	wantRefused("backup, dir holding the sources", p.maim("backup", "--backup-dir", p.Root), 1, "lies inside the backup dir")
	upgradeTo("1.1.0")
	wantRefused("upgrade, dir holding the sources", p.maim("upgrade", "--backup-dir", p.Root), 12, "lies inside the backup dir")
	wantNoBackupIn(t, p.Root, p.Name)
	upgradeTo("1.0.0")

	// and the usual dir still works, to the end
	p.backup()
	p.wantUpChangesNothing()
}

// maimEnvOnly runs `docker maim` on the project with env entries that override the
// harness's (MAIM_BACKUP_DIR among them).
func (p *project) maimEnvOnly(env []string, args ...string) Result {
	p.t.Helper()
	return maimEnv(p.t, p.Dir, append([]string{"COMPOSE_PROJECT_NAME=" + p.Name}, env...), args...)
}

// copyTree copies the regular files and dirs of src to dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	must(t, filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	}))
}

// TestResetDataReadBackFirst: --reset-data empties a source only after its archive in the
// upgrade's backup was read back and verified. The upgrade is held at its backed-up
// failpoint, a byte of the botdata archive is flipped, and it is let go: it must refuse
// to empty botdata and roll back, the bot's container started again as it was and the data
// byte-identical. Before the read-back, the upgrade emptied botdata and went on to 2.0.0.
func TestResetDataReadBackFirst(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "guard-reset-verify", "")
	before, _ := bp.data()
	oldIDs := bp.containerIDs()
	fp := filepath.Join(t.TempDir(), "failpoint")
	run := bp.maimStart([]string{"MAIM_FAILPOINT=upgrade:backed-up:wait", "MAIM_FAILPOINT_FILE=" + fp},
		"upgrade", "--image", "bot="+bp.Bot("2.0.0"), "--accept-breaking", "--reset-data", "botdata",
		"--stable-period", "2s", "--timeout", "2m")
	waitFailpoint(t, run, fp, 3*time.Minute)

	b, err := os.ReadFile(bp.journalPath())
	must(t, err)
	var jr struct {
		Phase    string `json:"phase"`
		BackupID string `json:"backup_id"`
	}
	must(t, json.Unmarshal(b, &jr))
	if jr.Phase != "backed-up" || jr.BackupID == "" {
		t.Fatalf("held at phase %q with backup %q", jr.Phase, jr.BackupID)
	}
	src := bp.manifest(jr.BackupID).source(t, "botdata")
	path := filepath.Join(bp.backupPath(jr.BackupID), src.Archive)
	a, err := os.ReadFile(path)
	must(t, err)
	a[len(a)/2] ^= 0x40
	must(t, os.WriteFile(path, a, 0o600))
	must(t, os.Remove(fp))

	r := run.wait(t, 5*time.Minute)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (rolled back): %s", r)
	}
	if line := lastLine(r.Stderr); !strings.Contains(line, "reset-data") || !strings.Contains(line, src.Archive) || !strings.Contains(line, "nothing was emptied") {
		t.Errorf("the error does not say that the read-back of %s failed: %q", src.Archive, line)
	}
	bp.wantBot("1.0.0")
	if got := bp.containerIDs(); strings.Join(got, ",") != strings.Join(oldIDs, ",") {
		t.Errorf("the bot's container was replaced: before %v, after %v", oldIDs, got)
	}
	after, _ := bp.data()
	wantRestored(t, "after the refused reset", before, after, "1.0.0")
	bp.wantNoJournal()
	bp.wantUpChangesNothing()
}

// TestUpgradeKilledWhileVerifyingReset: a kill -9 while the upgrade reads back what
// --reset-data will empty (journal phase "verifying") leaves nothing changed: rollback
// starts what ran, the data and files are as before, and the upgrade then runs to the end.
func TestUpgradeKilledWhileVerifyingReset(t *testing.T) {
	t.Parallel()
	c := newCrashCase(t, "guard-kill", "verifying")
	c.args, c.reset = append(append([]string{}, upgradeArgs...), "--reset-data", "botdata"), true
	wantKilled(t, c.maimWith([]string{"MAIM_FAILPOINT=upgrade:verifying"}, c.args...))
	wantInterrupted(t, c.project, "upgrade", "verifying")

	r := mustOK(t, c.maim(rollbackArgs...))
	if !strings.Contains(r.Stdout, "resolved the interrupted upgrade in phase verifying") {
		t.Errorf("rollback does not say what it resolved: %s", r)
	}
	if !strings.Contains(r.Stderr, "nothing was changed yet") {
		t.Errorf("rollback restored data although nothing had changed: %s", r)
	}
	c.wantBackToV1(t, "rollback after kill -9 in upgrade:verifying")
	c.wantSettled(t)
	c.setEnv("BOT_VERSION", "2.0.0") // the rollback edited the tag back to what ran
	upgraded(t, c.maim(c.args...), c.Name, c.repo+":1.0.0", c.repo+":2.0.0")
}
