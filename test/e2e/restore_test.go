package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/moby/moby/client"
)

// damage changes, adds and deletes files and a mode in a tree made by seedData.
func damage(t testing.TB, dir string) {
	t.Helper()
	writeTree(t, dir, map[string]string{"notes/hello.txt": "changed\n", "intruder/new.txt": "not in the backup\n"})
	must(t, os.Remove(filepath.Join(dir, "deep/a/b/c/d.bin")))
	must(t, os.RemoveAll(filepath.Join(dir, "emptydir")))
	must(t, os.Chmod(filepath.Join(dir, "empty-file"), 0o644))
}

// state hashes every data source of a fullProject (starts.log, which the bot appends to on
// every start, left out).
func (p *fullProject) state() map[string]string {
	p.t.Helper()
	return map[string]string{
		"storedata":         testrig.TreeHash(p.t, p.vol, "starts.log"),
		"anon:store:/cache": testrig.TreeHash(p.t, p.cache),
		"./config":          testrig.TreeHash(p.t, p.Path("config")),
		"./settings.toml":   testrig.TreeHash(p.t, p.Path("settings.toml")),
	}
}

func sameState(t testing.TB, what string, got, want map[string]string, only ...string) {
	t.Helper()
	for k := range want {
		if len(only) > 0 && !slices.Contains(only, k) {
			continue
		}
		if got[k] != want[k] {
			t.Errorf("%s: %s differs from before", what, k)
		}
	}
}

var safetyLine = regexp.MustCompile(`(?m)^the data as it was before is in backup (\S+)$`)

func TestRestore(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newFullProject(t, "restore")
	id := p.backup()
	compose(t, p.project, "stop")
	want := p.state()
	compose(t, p.project, "start", "store", "bot")

	for _, dir := range []string{p.vol, p.cache, p.Path("config")} {
		damage(t, dir)
	}
	p.WriteFile("settings.toml", "[settings]\nlevel = 99\n")
	before := p.containers()

	r := mustOK(t, p.maim("restore"))
	if !strings.Contains(r.Stdout, "from backup "+id) {
		t.Errorf("restore did not use the newest backup %s: %s", id, r)
	}
	after := p.containers()
	for _, svc := range []string{"store", "bot"} {
		if !after[svc].State.Running || after[svc].State.StartedAt == before[svc].State.StartedAt {
			t.Errorf("%s was not stopped and started again: %+v", svc, after[svc].State)
		}
	}
	if after["idle"].State.Running {
		t.Errorf("idle runs after the restore; it was stopped")
	}
	if !ts(t, after["store"].State.StartedAt).Before(ts(t, after["bot"].State.StartedAt)) {
		t.Errorf("start order after restore: store %s, bot %s", after["store"].State.StartedAt, after["bot"].State.StartedAt)
	}
	compose(t, p.project, "stop")
	sameState(t, "after restore", p.state(), want)
	for _, dir := range []string{p.vol, p.cache, p.Path("config")} {
		if uid, gid := owner(t, filepath.Join(dir, "notes/hello.txt")); uid != 1234 || gid != 5678 {
			t.Errorf("%s: owner %d:%d not restored", dir, uid, gid)
		}
	}

	// the damaged data was kept in a safety backup, listed as such
	sm := safetyLine.FindStringSubmatch(r.Stdout)
	if sm == nil {
		t.Fatalf("no safety backup reported: %s", r)
	}
	row, ok := rowByID(p.backups(), sm[1])
	if !ok || row.Status != "complete" || row.Reason != "pre-restore" {
		t.Fatalf("safety backup %s in the list: %+v (%v)", sm[1], row, ok)
	}
	x := untar(t, filepath.Join(p.backupPath(sm[1]), p.manifest(sm[1]).source(t, "./config").Archive), "--zstd")
	if b, err := os.ReadFile(filepath.Join(x, "intruder/new.txt")); err != nil || string(b) != "not in the backup\n" {
		t.Errorf("the safety backup does not hold the data as it was: %v", err)
	}

	// --source restores only the named source
	damage(t, p.vol)
	damage(t, p.Path("config"))
	r = mustOK(t, p.maim("restore", id, "--source", "./config"))
	if !strings.Contains(r.Stdout, "restored 1 sources") {
		t.Errorf("--source: %s", r)
	}
	got := p.state()
	sameState(t, "--source ./config", got, want, "./config", "./settings.toml", "anon:store:/cache")
	if got["storedata"] == want["storedata"] {
		t.Errorf("--source ./config also restored storedata")
	}
	// an unknown source name is refused before anything happens
	r = p.maim("restore", id, "--source", "nosuch")
	if r.Code == 0 || !strings.Contains(r.Stderr, "nosuch") {
		t.Errorf("--source nosuch: %s", r)
	}
}

func TestRestoreAfterDownV(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newFullProject(t, "restore-downv")
	id := p.backup()
	m := p.manifest(id)
	// anonymous volumes restored after down -v are no longer any container's: remove them.
	t.Cleanup(func() {
		for _, s := range m.Sources {
			if s.Kind == "anonymous-volume" {
				p.Client.VolumeRemove(context.Background(), s.VolumeName, client.VolumeRemoveOptions{Force: true})
			}
		}
	})
	compose(t, p.project, "stop")
	want := p.state()
	compose(t, p.project, "down", "-v")
	volName := p.Name + "_storedata"
	if _, err := p.Client.VolumeInspect(context.Background(), volName, client.VolumeInspectOptions{}); err == nil {
		t.Fatalf("down -v left %s", volName)
	}

	mustOK(t, p.maim("restore", id))
	v, err := p.Client.VolumeInspect(context.Background(), volName, client.VolumeInspectOptions{})
	if err != nil {
		t.Fatalf("restore did not recreate %s: %v", volName, err)
	}
	labels := v.Volume.Labels
	if labels["com.docker.compose.project"] != p.Name || labels["com.docker.compose.volume"] != "storedata" {
		t.Errorf("recreated volume labels %v", labels)
	}
	if _, ok := labels["com.docker.compose.config-hash"]; ok {
		t.Errorf("recreated volume carries a config-hash: compose may delete it")
	}
	compose(t, p.project, "stop") // no container may touch it before it is checked after up
	must(t, os.WriteFile(filepath.Join(p.volumeDir(volName), "restored-marker"), []byte("x"), 0o644))

	out := compose(t, p.project, "up", "-d", "--wait")
	for _, bad := range []string{"not created by Docker Compose", "already exists", "Recreate", "recreate"} {
		if strings.Contains(out, bad) {
			t.Errorf("compose up complains about the restored volume (%q):\n%s", bad, out)
		}
	}
	// the volume compose uses is the restored one, with the restored data
	compose(t, p.project, "stop")
	dir := p.volumeDir(volName)
	if _, err := os.Stat(filepath.Join(dir, "restored-marker")); err != nil {
		t.Fatalf("compose up replaced the restored volume: %v", err)
	}
	must(t, os.Remove(filepath.Join(dir, "restored-marker")))
	if got := testrig.TreeHash(t, dir, "starts.log"); got != want["storedata"] {
		t.Errorf("the restored volume's data differs from the backup")
	}
	if c := p.containers()["store"]; len(c.Mounts) == 0 {
		t.Errorf("store has no mounts")
	} else {
		for _, mp := range c.Mounts {
			if mp.Destination == "/bot/data" && mp.Name != volName {
				t.Errorf("store mounts %s at /bot/data, want %s", mp.Name, volName)
			}
		}
	}
}

// TestBackupsListAndVerify lists complete, incomplete and corrupt backups, verifies them, and
// checks that a restore from a damaged backup refuses and touches nothing.
func TestBackupsListAndVerify(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "verify", optsCompose)
	compose(t, p, "up", "-d", "--wait")
	seedData(t, p.Path("config"))
	incomplete, truncated, flipped := p.backup(), p.backup(), p.backup()

	r := mustOK(t, p.maim("verify"))
	if !strings.Contains(r.Stdout, "backup "+flipped+" is intact") {
		t.Errorf("verify (newest): %s", r)
	}
	mustOK(t, p.maim("verify", truncated))

	must(t, os.Remove(filepath.Join(p.backupPath(incomplete), "manifest.json")))
	tm := p.manifest(truncated)
	tArchive := filepath.Join(p.backupPath(truncated), tm.source(t, "./config").Archive)
	st, err := os.Stat(tArchive)
	must(t, err)
	must(t, os.Truncate(tArchive, st.Size()/2))
	fm := p.manifest(flipped)
	fArchive := filepath.Join(p.backupPath(flipped), fm.source(t, "appdata").Archive)
	b, err := os.ReadFile(fArchive)
	must(t, err)
	b[len(b)/2] ^= 0x40
	must(t, os.WriteFile(fArchive, b, 0o600))

	rows := p.backups()
	wantStatus := map[string]string{incomplete: "incomplete", truncated: "corrupt", flipped: "complete"}
	if len(rows) != 3 {
		t.Fatalf("backups: %+v", rows)
	}
	for id, status := range wantStatus {
		if row, ok := rowByID(rows, id); !ok || row.Status != status {
			t.Errorf("backup %s: %+v, want status %s", id, row, status)
		}
	}
	if rows[0].ID != flipped {
		t.Errorf("newest first: %+v", rows)
	}
	for _, alias := range []string{"backups", "ls"} {
		r := mustOK(t, p.maim(alias))
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		if len(lines) != 4 || !regexp.MustCompile(`^ID\s+TIME\s+.*STATUS`).MatchString(lines[0]) {
			t.Fatalf("%s table: %s", alias, r)
		}
		for id, status := range wantStatus {
			found := false
			for _, l := range lines[1:] {
				found = found || strings.HasPrefix(l, id+" ") && strings.Contains(l, " "+status)
			}
			if !found {
				t.Errorf("%s table has no row %s ... %s:\n%s", alias, id, status, r.Stdout)
			}
		}
	}

	// verify names the broken file and exits 3
	r = p.maim("verify", truncated)
	wantFail(t, r, 3, filepath.Base(tArchive))
	r = p.maim("verify", flipped)
	wantFail(t, r, 3, filepath.Base(fArchive))
	r = p.maim("verify", incomplete)
	wantFail(t, r, 3, "incomplete")

	// restore refuses (exit 3) and changes nothing: data, containers, backups
	damage(t, p.Path("config"))
	vol := p.volumeDir(p.Name + "_appdata")
	compose(t, p, "stop")
	writeTree(t, vol, map[string]string{"marker": "after the backups"})
	cfg, data := testrig.TreeHash(t, p.Path("config")), testrig.TreeHash(t, vol, "starts.log")
	compose(t, p, "start")
	started := p.containers()["app"].State.StartedAt
	// rollback checks the archives while everything runs, too.
	for _, args := range [][]string{{"restore"}, {"restore", flipped}, {"restore", truncated}, {"restore", incomplete}, {"rollback", flipped}} {
		r := p.maim(args...)
		wantFail(t, r, 3, "nothing was changed")
	}
	if c := p.containers()["app"]; !c.State.Running || c.State.StartedAt != started {
		t.Errorf("a refused restore stopped or restarted app: %+v", c.State)
	}
	compose(t, p, "stop")
	// With nothing running and no safety backup, the check runs while the helper starts,
	// which waits for it: refused all the same, nothing written.
	for _, args := range [][]string{{"restore", flipped, "--no-safety-backup"}, {"restore", truncated, "--no-safety-backup"}} {
		wantFail(t, p.maim(args...), 3, "nothing was changed")
	}
	if testrig.TreeHash(t, p.Path("config")) != cfg || testrig.TreeHash(t, vol, "starts.log") != data {
		t.Errorf("a refused restore changed the data")
	}
	if rows := p.backups(); len(rows) != 3 {
		t.Errorf("a refused restore made a backup: %+v", rows)
	}
}

// TestRestoreMiscountedBackup: a restore checks only the archives' hashes before it
// touches anything and leaves the counts to its own extraction. A backup whose archives
// are intact but whose manifest disagrees with them (the writer got it wrong) fails after
// the first source was written: the safety backup puts everything back, and what ran runs.
// verify, which reads every archive whole, names the same backup beforehand.
func TestRestoreMiscountedBackup(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "miscount", optsCompose)
	compose(t, p, "up", "-d", "--wait")
	seedData(t, p.Path("config"))
	id := p.backup()
	vol := p.volumeDir(p.Name + "_appdata")

	// the source a restore writes last (parents first: shortest host path first)
	m := p.manifest(id)
	last := m.Sources[0]
	for _, s := range m.Sources {
		if len(s.HostPath) >= len(last.HostPath) {
			last = s
		}
	}
	path := filepath.Join(p.backupPath(id), "manifest.json")
	b, err := os.ReadFile(path)
	must(t, err)
	var raw map[string]any
	must(t, json.Unmarshal(b, &raw))
	for _, s := range raw["sources"].([]any) {
		if s := s.(map[string]any); s["name"] == last.Name {
			s["entries"] = s["entries"].(float64) + 1
		}
	}
	b, err = json.MarshalIndent(raw, "", "  ")
	must(t, err)
	must(t, os.WriteFile(path, b, 0o600))
	wantFail(t, p.maim("verify", id), 3, "entries")

	damage(t, p.Path("config"))
	writeTree(t, vol, map[string]string{"marker": "after the backup"})
	compose(t, p, "stop")
	cfg, data := testrig.TreeHash(t, p.Path("config")), testrig.TreeHash(t, vol, "starts.log")
	compose(t, p, "start")

	r := p.maim("restore", id)
	if r.Code == 0 || !strings.Contains(r.Stderr, "manifest says") || !strings.Contains(r.Stderr, "put back from safety backup") {
		t.Fatalf("restore of a miscounted backup: %s", r)
	}
	if !p.containers()["app"].State.Running {
		t.Errorf("app does not run after the put-back")
	}
	compose(t, p, "stop")
	if testrig.TreeHash(t, p.Path("config")) != cfg || testrig.TreeHash(t, vol, "starts.log") != data {
		t.Errorf("the safety backup did not put the data back as it was")
	}
}
