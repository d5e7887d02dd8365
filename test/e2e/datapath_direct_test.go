package e2e

import (
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDataPathDirectAsDockerGroupUser: a docker-group user on the local engine backs up
// through the helper container writing the archive into the backup dir itself (no attach
// stream: the data path says so), the archive files end the user's with the repository's
// modes, and the restore reads them from there byte for byte. MAIM_HELPER_STREAM=1 keeps the
// attach stream (its speed reported), with the same result.
func TestDataPathDirectAsDockerGroupUser(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	arch, _ := engineArch(t)
	helper := "helper container (linux/" + arch + ")"
	u := newDockerUser(t)
	cfg := u.install(t, pluginBin, "direct")
	bp := newBotProject(t, "dpdirect", "BOT_FAIL=crash-late\nBOT_FAIL_ON=9.9.9\n")
	u.own(t, filepath.Dir(bp.Dir)) // project files and backups
	u.own(t, stateDir(t))
	run := func(env []string, args ...string) Result { return u.maim(t, bp.project, cfg, env, args...) }
	jsonPath := func(what string, r Result) string {
		t.Helper()
		var doc struct {
			DataPath string `json:"data_path"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
			t.Fatalf("%s: %v: %s", what, err, r)
		}
		return doc.DataPath
	}

	before, _ := bp.data()
	r := mustOK(t, run(nil, "--progress", "plain", "backup"))
	id := backupID(t, r)
	if got, want := regexpFind(t, `data path: (.*)`, r.Stderr), helper+", writing to the backup dir directly"; got != want {
		t.Errorf("backup: data path %q, want %q", got, want)
	}
	// Every file of the backup is the user's, 0600 (the helper wrote as root into a file
	// the user created), and nothing else (marker, partial file) was left.
	dir := filepath.Join(backupDir(t), bp.Name, id)
	n := 0
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != u.uid || st.Gid != u.gid || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: owner %d:%d mode %o, want %d:%d 0600", p, st.Uid, st.Gid, fi.Mode().Perm(), u.uid, u.gid)
		}
		if strings.HasSuffix(p, ".partial") || strings.Contains(p, ".maim-visible-") {
			t.Errorf("left in the backup: %s", p)
		}
		if strings.Contains(d.Name(), ".tar") {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no archive in %s", dir)
	}

	// The volume's progress total is known before its copy starts, also where neither the
	// host path (not root) nor the engine (/system/df lists volumes alone from API 1.42 on)
	// can tell it: then a helper container measures it while the services still run.
	r = mustOK(t, run(nil, "--progress", "json", "backup"))
	pm := bp.manifest(backupID(t, r))
	wantTotals(t, progressTasks(t, r.Stderr), "botdata", "botdata", "backup/backup-hot", 0, pm.source(t, "botdata").Bytes/2)

	// Restore from it (its safety backup written directly too), byte for byte.
	bp.changeVolume(true)
	r = mustOK(t, run(nil, "restore", id, "--format", "json", "--stable-period", "3s", "--timeout", "2m"))
	got := jsonPath("restore", r)
	if !strings.Contains(got, helper+", reading from the backup dir directly") {
		t.Errorf("restore: data path %q, want the archive read from the backup dir directly", got)
	}
	for _, part := range strings.Split(got, "; ") {
		if !strings.HasPrefix(part, helper+", ") || !strings.HasSuffix(part, " the backup dir directly") {
			t.Errorf("restore: data path %q has %q", got, part)
		}
	}
	after, _ := bp.data()
	wantRestored(t, "restore from the backup dir directly", before, after, "1.0.0")

	// The attach stream, forced: the same result, the speed reported.
	stream := []string{"MAIM_HELPER_STREAM=1"}
	r = mustOK(t, run(stream, "backup", "--format", "json"))
	if got, want := jsonPath("streamed backup", r), helper+" via attach stream (MAIM_HELPER_STREAM=1), "; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "B/s") {
		t.Errorf("streamed backup: data path %q, want %q and a speed", got, want)
	}
	var doc struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(r.Stdout), &doc)
	sid := doc.ID
	if sid == "" {
		sid = regexpFind(t, `"(\d{8}T\d{6}Z(?:-\d+)?)"`, r.Stdout)
	}
	bp.changeVolume(true)
	r = mustOK(t, run(stream, "restore", sid, "--no-safety-backup", "--format", "json", "--stable-period", "3s", "--timeout", "2m"))
	if got := jsonPath("streamed restore", r); !strings.HasPrefix(got, helper+" via attach stream (MAIM_HELPER_STREAM=1)") || strings.Contains(got, "directly") {
		t.Errorf("streamed restore: data path %q", got)
	}
	after, _ = bp.data()
	wantRestored(t, "restore through the attach stream", before, after, "1.0.0")
}
