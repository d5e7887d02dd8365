package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// The restore-side data-loss paths of issue 8: each test here fails on the code before
// they were closed.

// restoreCompose is a bot with a named volume and a bind dir (backup_test.go's optsCompose).
const restoreCompose = optsCompose

var restoreArgs = []string{"restore", "--stable-period", "1s", "--timeout", "2m"}

type restoreProject struct {
	*project
	vol string // host dir of appdata
}

func newRestoreProject(t *testing.T, name string) *restoreProject {
	t.Helper()
	p := newProject(t, name, restoreCompose)
	writeTree(t, p.Path("config"), map[string]string{"settings.txt": "v1\n", "sub/keep.txt": "kept\n"})
	compose(t, p, "up", "-d", "--wait")
	rp := &restoreProject{project: p, vol: p.volumeDir(p.Name + "_appdata")}
	writeTree(t, rp.vol, map[string]string{"db/data.bin": "rows v1\n"})
	return rp
}

func (p *restoreProject) restore(args ...string) Result {
	p.t.Helper()
	return p.maim(append(append([]string(nil), restoreArgs...), args...)...)
}

func fileSum(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// editManifest rewrites manifest.json of backup id through fn (a forged manifest).
func (p *project) editManifest(id string, fn func(m map[string]any)) {
	p.t.Helper()
	path := filepath.Join(p.backupPath(id), "manifest.json")
	b, err := os.ReadFile(path)
	must(p.t, err)
	var m map[string]any
	must(p.t, json.Unmarshal(b, &m))
	fn(m)
	b, err = json.Marshal(m)
	must(p.t, err)
	must(p.t, os.WriteFile(path, b, 0o600))
}

func sourceOf(m map[string]any, name string) map[string]any {
	for _, s := range m["sources"].([]any) {
		if s.(map[string]any)["name"] == name {
			return s.(map[string]any)
		}
	}
	return nil
}

// TestRestoreKeepsExcludedFiles: what `backup --exclude` left out survives a restore
// byte-identical (the exact sync used to delete it), on the host and the helper path.
func TestRestoreKeepsExcludedFiles(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newRestoreProject(t, "restore-excl")
	writeTree(t, p.Path("config"), map[string]string{"app.log": "log at backup\n"})
	writeTree(t, p.vol, map[string]string{"cache/blob": "cache at backup\n"})
	id := p.backup("--exclude", "*.log", "--exclude", "cache/**")
	p.editManifest(id, func(m map[string]any) {
		if got, _ := json.Marshal(m["excludes"]); string(got) != `["*.log","cache/**"]` {
			t.Errorf("the manifest records excludes %s", got)
		}
	})

	for _, env := range [][]string{nil, {"MAIM_NO_HOST_PATH=1"}} {
		writeTree(t, p.Path("config"), map[string]string{"app.log": "live log " + strings.Join(env, "") + "\n", "settings.txt": "damaged\n", "new.log": "new\n"})
		writeTree(t, p.vol, map[string]string{"cache/blob": "live cache\n", "cache/more/x": "x\n", "db/data.bin": "damaged\n"})
		excluded := []string{p.Path("config/app.log"), p.Path("config/new.log"), filepath.Join(p.vol, "cache/blob"), filepath.Join(p.vol, "cache/more/x")}
		before := map[string]string{}
		for _, f := range excluded {
			before[f] = fileSum(t, f)
		}
		mustOK(t, p.maimWith(env, append(append([]string(nil), restoreArgs...), id)...))
		for _, f := range excluded {
			if got := fileSum(t, f); got != before[f] {
				t.Errorf("%v: excluded %s changed by the restore: %s, was %s", env, f, got, before[f])
			}
		}
		if b, _ := os.ReadFile(p.Path("config/settings.txt")); string(b) != "v1\n" {
			t.Errorf("%v: settings.txt not restored: %q", env, b)
		}
		if b, _ := os.ReadFile(filepath.Join(p.vol, "db/data.bin")); string(b) != "rows v1\n" {
			t.Errorf("%v: db/data.bin not restored: %q", env, b)
		}
		p.wantUpChangesNothing()
	}
}

// TestRestoreMovedBind: after a bind is moved in the compose file, restoring an older backup
// is refused naming both paths (it used to overwrite the old path without a safety copy
// while the app's data stayed as it was); --to-recorded-paths writes the old path, and the
// safety backup holds what it overwrote.
func TestRestoreMovedBind(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newRestoreProject(t, "restore-moved")
	id := p.backup()
	must(t, os.Rename(p.Path("config"), p.Path("config2")))
	must(t, os.MkdirAll(p.Path("config"), 0o755))
	writeTree(t, p.Path("config"), map[string]string{"left-behind.txt": "old dir, later\n"})
	p.WriteCompose(strings.Replace(restoreCompose, "./config:", "./config2:", 1))
	compose(t, p.project, "up", "-d", "--wait")
	app := p.containers()["app"].State.StartedAt

	r := p.restore(id)
	wantFail(t, r, 12, p.Path("config"), p.Path("config2"), "--to-recorded-paths")
	if _, err := os.Stat(p.Path("config/left-behind.txt")); err != nil {
		t.Errorf("the refused restore wrote the old path: %v", err)
	}
	if c := p.containers()["app"]; !c.State.Running || c.State.StartedAt != app {
		t.Errorf("the refused restore stopped the app: %+v", c.State)
	}

	// (the backup's compose file names ./config: it is left as the user edited it)
	r = mustOK(t, p.restore(id, "--to-recorded-paths", "--source", "./config", "--source", "appdata"))
	if _, err := os.Stat(p.Path("config/left-behind.txt")); !os.IsNotExist(err) {
		t.Errorf("--to-recorded-paths did not restore the old path: %v", err)
	}
	sm := safetyLine.FindStringSubmatch(r.Stdout)
	if sm == nil {
		t.Fatalf("no safety backup: %s", r)
	}
	x := p.extractSource(sm[1], "./config")
	if b, err := os.ReadFile(filepath.Join(x, "left-behind.txt")); err != nil || string(b) != "old dir, later\n" {
		t.Errorf("the safety backup does not hold the overwritten old path: %v", err)
	}
	p.wantUpChangesNothing()
}

// TestRestoreForgedManifest: verify re-hashes archives, not the manifest. An archive name
// leading out of the backup dir and driver options the compose file does not declare are
// refused with nothing written (they used to be followed: the volume was created as the
// manifest said, bound to a host dir, and synced).
func TestRestoreForgedManifest(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newRestoreProject(t, "restore-forged")
	id := p.backup()
	writeTree(t, p.vol, map[string]string{"after-backup.txt": "must stay\n"})

	// an archive outside the backup dir, holding the very bytes the manifest hashes
	src := p.manifest(id).source(t, "appdata")
	outside := filepath.Join(p.BackupDir, "x")
	b, err := os.ReadFile(filepath.Join(p.backupPath(id), src.Archive))
	must(t, err)
	must(t, os.WriteFile(outside, b, 0o600))
	must(t, os.Remove(filepath.Join(p.backupPath(id), src.Archive)))
	p.editManifest(id, func(m map[string]any) { sourceOf(m, "appdata")["archive"] = "../../x" })
	app := p.containers()["app"].State.StartedAt
	wantFail(t, p.restore(id), 3, "../../x")
	if _, err := os.Stat(filepath.Join(p.vol, "after-backup.txt")); err != nil {
		t.Errorf("the refused restore changed the volume: %v", err)
	}
	if c := p.containers()["app"]; !c.State.Running || c.State.StartedAt != app {
		t.Errorf("the refused restore stopped the app: %+v", c.State)
	}

	// driver options that bind the volume to a host dir
	id2 := p.backup()
	victim := filepath.Join(p.Root, "victim")
	writeTree(t, victim, map[string]string{"precious.txt": "host data\n"})
	p.editManifest(id2, func(m map[string]any) {
		sourceOf(m, "appdata")["driver_opts"] = map[string]string{"type": "none", "o": "bind", "device": victim}
	})
	compose(t, p.project, "down", "-v")
	volName := p.Name + "_appdata"
	t.Cleanup(func() { p.Client.VolumeRemove(context.Background(), volName, client.VolumeRemoveOptions{Force: true}) })
	wantFail(t, p.restore(id2), 12, "driver", volName)
	if _, err := p.Client.VolumeInspect(context.Background(), volName, client.VolumeInspectOptions{}); err == nil {
		t.Errorf("the refused restore created volume %s", volName)
	}
	if b, err := os.ReadFile(filepath.Join(victim, "precious.txt")); err != nil || string(b) != "host data\n" {
		t.Errorf("the host dir named by the forged options changed: %q %v", b, err)
	}
}

// TestRestoreKilled: a kill -9 in a restore leaves a journal; every command reports the
// interrupted restore and `rollback` resolves it, the data as it was before the restore.
func TestRestoreKilled(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, phase := range []string{"backing-up", "restoring"} {
		t.Run(phase, func(t *testing.T) {
			p := newRestoreProject(t, "restore-kill-"+phase)
			id := p.backup()
			writeTree(t, p.Path("config"), map[string]string{"settings.txt": "after the backup\n", "added.txt": "new\n"})
			writeTree(t, p.vol, map[string]string{"db/data.bin": "rows v2\n"})
			before := []string{fileSum(t, p.Path("config/settings.txt")), fileSum(t, p.Path("config/added.txt")), fileSum(t, filepath.Join(p.vol, "db/data.bin"))}

			wantKilled(t, p.maimWith([]string{"MAIM_FAILPOINT=restore:" + phase}, append(append([]string(nil), restoreArgs...), id)...))
			r := mustOK(t, p.maim("status"))
			if !strings.Contains(r.Stdout, `INTERRUPTED: restore stopped in phase "`+phase+`"`) || !strings.Contains(r.Stderr, "rollback") {
				t.Errorf("status does not report the interrupted restore: %s", r)
			}
			if st := p.status(); st.Interrupted == nil || st.Interrupted.Op != "restore" || st.Interrupted.Phase != phase {
				t.Errorf("status --format json: %+v", st.Interrupted)
			}
			wantFail(t, p.restore(id), 12, "interrupted", "docker maim rollback")

			mustOK(t, p.maim("rollback", "--stable-period", "1s"))
			p.wantNoJournal()
			after := []string{fileSum(t, p.Path("config/settings.txt")), fileSum(t, p.Path("config/added.txt")), fileSum(t, filepath.Join(p.vol, "db/data.bin"))}
			if strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("after rollback the data is not what it was before the restore")
			}
			if c := p.containers()["app"]; !c.State.Running {
				t.Errorf("app does not run after the rollback")
			}
			p.wantUpChangesNothing()
		})
	}
}

// TestRestorePutBackFails: a restore that fails half way and cannot put its safety backup
// back leaves the services stopped (they used to start on mixed data), says how to
// recover, and `rollback` puts the data back once the cause is gone.
func TestRestorePutBackFails(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	if _, err := exec.LookPath("chattr"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and chattr")
	}
	p := newRestoreProject(t, "restore-stuck")
	id := p.backup()
	writeTree(t, p.vol, map[string]string{"db/data.bin": "rows v2\n"})
	writeTree(t, p.Path("config"), map[string]string{"settings.txt": "v2\n"})
	locked := p.Path("config/sub/keep.txt")
	if out, err := exec.Command("chattr", "+i", locked).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	unlock := func() { exec.Command("chattr", "-i", locked).Run() }
	t.Cleanup(unlock)

	r := p.restore(id)
	wantFail(t, r, 11, "left stopped", "docker maim -p "+p.Name+" rollback")
	if !regexp.MustCompile(`safety backup \S+`).MatchString(r.Stderr) {
		t.Errorf("the message does not name the safety backup: %s", r)
	}
	if c := p.containers()["app"]; c.State.Running {
		t.Errorf("app was started on mixed data")
	}
	if st := p.status(); st.Interrupted == nil || st.Interrupted.Op != "restore" {
		t.Errorf("status does not report the restore: %+v", st.Interrupted)
	}

	unlock()
	mustOK(t, p.maim("rollback", "--stable-period", "1s"))
	p.wantNoJournal()
	if b, _ := os.ReadFile(filepath.Join(p.vol, "db/data.bin")); string(b) != "rows v2\n" {
		t.Errorf("rollback did not put the volume back: %q", b)
	}
	if b, _ := os.ReadFile(p.Path("config/settings.txt")); string(b) != "v2\n" {
		t.Errorf("rollback did not put the config back: %q", b)
	}
	if c := p.containers()["app"]; !c.State.Running {
		t.Errorf("app does not run after the rollback")
	}
	p.wantUpChangesNothing()
}

// TestRestoreTwiceSameBackup: `restore` without an ID skips safety backups, so running it
// twice restores the same backup both times (the second used to restore the first one's
// safety backup, undoing it) and says which backup it chose.
func TestRestoreTwiceSameBackup(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newRestoreProject(t, "restore-twice")
	id := p.backup()
	for i := range 2 {
		writeTree(t, p.Path("config"), map[string]string{"settings.txt": "damaged\n"})
		r := mustOK(t, p.restore())
		if !strings.Contains(r.Stdout, "backup "+id+" chosen: the newest") || !strings.Contains(r.Stdout, "from backup "+id) {
			t.Errorf("run %d did not restore %s: %s", i+1, id, r)
		}
		if i == 1 && !strings.Contains(r.Stdout, "pre-restore") {
			t.Errorf("run 2 does not say it skipped the safety backup: %s", r)
		}
		if b, _ := os.ReadFile(p.Path("config/settings.txt")); string(b) != "v1\n" {
			t.Errorf("run %d: settings.txt = %q", i+1, b)
		}
	}
	p.wantUpChangesNothing()
}
