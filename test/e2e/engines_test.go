package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBackupDirSharedByEngines: a backup dir one project shares with another engine (a
// second engine is not available here, so its backup is this engine's copied with the
// manifest's origin naming another engine: what that engine's docker-maim writes) and
// with another state dir (root's cron beside the user: another user's state).
//   - the manifest records the real engine's key, context, endpoint and user;
//   - backups lists only this engine's, --all-engines the other's too, marked;
//   - verify without an ID (the newest) and prune never pick or remove the other's;
//   - the backup dir's lock is seen from another state dir: a backup there is refused
//     (exit 4) naming the holder, reading commands are not, and it goes once released.
func TestBackupDirSharedByEngines(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "engines", dataCompose)
	writeTree(t, p.Path("data"), map[string]string{"a": "a"})
	id1 := p.backup()
	id2 := p.backup("--full") // whole: prune --keep 1 may remove id1 (an increment's base is kept)

	key, err := engineKeyOnce()
	must(t, err)
	raw, err := os.ReadFile(filepath.Join(p.backupPath(id2), "manifest.json"))
	must(t, err)
	var man map[string]json.RawMessage
	must(t, json.Unmarshal(raw, &man))
	var origin struct {
		EngineID string `json:"engine_id"`
		Context  string `json:"context"`
		Host     string `json:"host"`
		UID      string `json:"uid"`
	}
	must(t, json.Unmarshal(man["origin"], &origin))
	if origin.EngineID != key || origin.Context == "" || origin.Host == "" || origin.UID != strconv.Itoa(os.Getuid()) {
		t.Fatalf("manifest origin %+v, want engine %s, a context, an endpoint and uid %d", origin, key, os.Getuid())
	}

	// Another engine's newest backup in the same dir.
	at, err := time.Parse("20060102T150405Z", strings.SplitN(id2, "-", 2)[0])
	must(t, err)
	other := at.Add(time.Hour).Format("20060102T150405Z")
	copyBackup(t, p.backupPath(id2), p.backupPath(other), func(m map[string]json.RawMessage) {
		m["id"], _ = json.Marshal(other)
		m["origin"] = json.RawMessage(`{"engine_id":"OTHER-ENGINE","context":"prod","host":"ssh://prod","uid":"1000","user":"bob"}`)
	})

	if rows := p.backups(); len(rows) != 2 || rows[0].ID != id2 || rows[1].ID != id1 {
		t.Errorf("backups lists %+v, want only this engine's %s and %s", rows, id2, id1)
	}
	r := mustOK(t, p.maim("backups", "--all-engines", "--format", "json"))
	var all struct {
		Backups []struct {
			ID     string `json:"id"`
			Owner  string `json:"owner"`
			Origin *struct {
				EngineID string `json:"engine_id"`
			} `json:"origin"`
		} `json:"backups"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &all))
	if len(all.Backups) != 3 || all.Backups[0].ID != other || all.Backups[0].Owner != "other-engine" || all.Backups[1].Owner != "this" ||
		all.Backups[0].Origin == nil || all.Backups[0].Origin.EngineID != "OTHER-ENGINE" {
		t.Errorf("backups --all-engines: %s", r.Stdout)
	}
	r = mustOK(t, p.maim("backups", "--all-engines"))
	if !strings.Contains(r.Stdout, other+": made on another engine OTHER-ENGINE (context prod, ssh://prod)") {
		t.Errorf("the table does not say whose %s is:\n%s", other, r.Stdout)
	}

	// The newest backup is this engine's, not the other's newer one.
	r = mustOK(t, p.maim("verify", "--format", "json"))
	var v struct {
		ID string `json:"id"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &v))
	if v.ID != id2 {
		t.Errorf("verify without an ID checked %s, want this engine's newest %s", v.ID, id2)
	}
	// Prune removes this engine's older backup, never the other's.
	r = mustOK(t, p.maim("prune", "--keep", "1"))
	if !strings.Contains(r.Stdout, "removed "+id1) || strings.Contains(r.Stdout, other) {
		t.Errorf("prune --keep 1:\n%s", r.Stdout)
	}
	for _, id := range []string{id2, other} {
		if _, err := os.Stat(filepath.Join(p.backupPath(id), "manifest.json")); err != nil {
			t.Errorf("%s is gone after prune: %v", id, err)
		}
	}

	// The backup dir's lock, held by another process (another engine's or user's
	// command), is seen by a command of another state dir.
	f, err := os.OpenFile(filepath.Join(p.BackupDir, p.Name, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	must(t, err)
	defer f.Close()
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	_, err = f.WriteString("pid 4242, user bob (uid 1000), engine OTHER-ENGINE (context prod): e2e holder\n")
	must(t, err)
	otherState := []string{"COMPOSE_PROJECT_NAME=" + p.Name, "MAIM_STATE_DIR=" + filepath.Join(t.TempDir(), "state")}
	for _, args := range [][]string{{"backup"}, {"prune", "--keep", "1"}, {"restore", id2}} {
		r := maimEnv(t, p.Dir, otherState, args...)
		wantFail(t, r, 4, "backup dir", "pid 4242, user bob", "engine OTHER-ENGINE", "e2e holder")
		onlyLine(t, r)
	}
	mustOK(t, maimEnv(t, p.Dir, otherState, "verify", id2)) // reads only
	mustOK(t, maimEnv(t, p.Dir, otherState, "prune", "--dry-run"))
	if rows := p.backups(); len(rows) != 1 {
		t.Errorf("refused commands left something: %+v", rows)
	}
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_UN))
	mustOK(t, maimEnv(t, p.Dir, otherState, "backup"))
}

// copyBackup copies a backup's files into a new backup dir, letting edit change the
// manifest.
func copyBackup(t testing.TB, from, to string, edit func(map[string]json.RawMessage)) {
	t.Helper()
	must(t, os.Mkdir(to, 0o700))
	des, err := os.ReadDir(from)
	must(t, err)
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		must(t, err)
		if de.Name() == "manifest.json" {
			var m map[string]json.RawMessage
			must(t, json.Unmarshal(b, &m))
			edit(m)
			b, err = json.Marshal(m)
			must(t, err)
		}
		must(t, os.WriteFile(filepath.Join(to, de.Name()), b, 0o600))
	}
}
