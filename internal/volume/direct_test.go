package volume

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/moby/moby/client"
)

// backupToRepo backs tg up through m into a fresh local backup repository, as the snapshot
// service does (an Archive of a LocalDir), and returns the committed file with its hash.
func backupToRepo(t *testing.T, m *EngineMover, tg Target) (string, string, archive.Stats) {
	t.Helper()
	store := backup.Local(tempDir(t))
	w, err := store.Begin("demo", time.Now())
	must(t, err)
	a, err := w.Create("data.tar.zst")
	must(t, err)
	st, err := m.Backup(ctxT(t), tg, a, BackupOptions{})
	if err != nil {
		a.Abort()
		t.Fatalf("backup %s: %v", tg, err)
	}
	sum, size, err := a.Commit()
	must(t, err)
	file := filepath.Join(w.Dir, "data.tar.zst")
	b, err := os.ReadFile(file)
	must(t, err)
	h := sha256.Sum256(b)
	if got := hex.EncodeToString(h[:]); got != sum || int64(len(b)) != size {
		t.Fatalf("committed archive: sha256 %s, %d bytes; the backup recorded %s, %d bytes", got, len(b), sum, size)
	}
	checkScan(t, b, archive.Zstd, st)
	fi, err := os.Stat(file)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %o, want the repository's 0600", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(w.Dir); len(ents) != 1 {
		t.Errorf("backup dir holds %d files, want the archive alone (no marker, no partial file)", len(ents))
	}
	return file, sum, st
}

// restoreFromFile restores the archive file into a fresh volume through m and returns it.
func restoreFromFile(t *testing.T, m *EngineMover, file string) string {
	t.Helper()
	f, err := os.Open(file)
	must(t, err)
	defer f.Close()
	v := newVolume(t)
	if _, err := m.Restore(ctxT(t), vol(v), f, RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return v
}

// TestHelperDirect: with a local engine that sees the backup dir, the helper writes the
// archive into the repository's file itself and reads it back from there; the data path
// says so, and the restore is exact.
func TestHelperDirect(t *testing.T) {
	noLeftovers(t)
	t.Setenv(EnvHelperStream, "")
	m := newMover(t, PathHelper)
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	file, _, _ := backupToRepo(t, m, bind(src))
	hd := m.describe(PathHelper, nil)
	if got, want := m.DataPath(), hd+", writing to the backup dir directly"; got != want {
		t.Errorf("backup data path %q, want %q", got, want)
	}
	v := restoreFromFile(t, m, file)
	if got, want := m.DataPath(), hd+", writing to the backup dir directly; "+hd+", reading from the backup dir directly"; got != want {
		t.Errorf("data path %q, want %q", got, want)
	}
	assertSameTree(t, hostTree(t, src), volumeTree(t, m, v), cmpOpts{})
}

// TestHelperDirectNotVisible: when the helper does not see the host's backup dir (the engine
// cannot mount it, or mounts another dir of the same name, as a remote engine or a Desktop VM
// without the share would), the marker check fails and the archive goes through the attach
// stream, with the same result and the speed reported.
func TestHelperDirectNotVisible(t *testing.T) {
	noLeftovers(t)
	t.Setenv(EnvHelperStream, "")
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	for _, tc := range []struct {
		name   string
		source func(dir string) string
	}{
		{"missing", func(string) string { return "/nonexistent-maim-" + randHex(6) }},
		{"other-dir", func(string) string {
			d := tempDir(t)
			must(t, os.WriteFile(filepath.Join(d, "data.tar.zst.partial"), nil, 0o600))
			return d
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := directSource
			directSource = tc.source
			t.Cleanup(func() { directSource = old })
			m := newMover(t, PathHelper)
			file, _, _ := backupToRepo(t, m, bind(src))
			want := m.describe(PathHelper, nil) + " via attach stream (the backup dir is not visible to the engine), "
			if got := m.DataPath(); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "B/s") || strings.Contains(got, "; ") {
				t.Errorf("backup data path %q, want %q and a speed", got, want)
			}
			v := restoreFromFile(t, m, file)
			if got := m.DataPath(); strings.Contains(got, "directly") {
				t.Errorf("data path %q after a restore from the dir the engine does not see", got)
			}
			assertSameTree(t, hostTree(t, src), volumeTree(t, m, v), cmpOpts{})
		})
	}
}

// TestHelperStreamForced: MAIM_HELPER_STREAM=1 keeps the attach stream on a local engine.
func TestHelperStreamForced(t *testing.T) {
	noLeftovers(t)
	t.Setenv(EnvHelperStream, "1")
	m := newMover(t, PathHelper)
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	file, _, _ := backupToRepo(t, m, bind(src))
	v := restoreFromFile(t, m, file)
	want := m.describe(PathHelper, nil) + " via attach stream (" + EnvHelperStream + "=1), "
	if got := m.DataPath(); !strings.HasPrefix(got, want) || strings.Contains(got, "; ") {
		t.Errorf("data path %q, want %q and a speed", got, want)
	}
	assertSameTree(t, hostTree(t, src), volumeTree(t, m, v), cmpOpts{})
}

// TestDirectBlockedRemoteEngine: an engine reached over tcp or ssh is never asked to mount
// the backup dir.
func TestDirectBlockedRemoteEngine(t *testing.T) {
	t.Setenv(EnvHelperStream, "")
	for host, want := range map[string]string{
		"tcp://10.0.0.1:2376":            "engine tcp://10.0.0.1:2376 is not local",
		"unix:///var/run/docker.sock":    "",
		"npipe:////./pipe/docker_engine": "",
	} {
		m := &EngineMover{cli: fakeHostClient{host: host}}
		if got := m.directBlocked("/backups"); got != want {
			t.Errorf("%s: directBlocked = %q, want %q", host, got, want)
		}
		m.markNotVisible("/backups", notVisibleMsg)
		if got := m.directBlocked("/backups"); want == "" && got != notVisibleMsg {
			t.Errorf("%s: after a failed marker check directBlocked = %q, want %q", host, got, notVisibleMsg)
		}
	}
}

// fakeHostClient is an engine client that only knows its address.
type fakeHostClient struct {
	client.APIClient
	host string
}

func (f fakeHostClient) DaemonHost() string { return f.host }

// TestRestoreWaitsForReady: every path waits for RestoreOptions.Ready before it changes the
// target. A helper is already running while Ready is asked (the caller's check of the
// archive overlaps the container's start), and a Ready that fails leaves the target as it
// was, returns that error, and leaves no helper behind.
func TestRestoreWaitsForReady(t *testing.T) {
	noLeftovers(t)
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	file, _, _ := backupToRepo(t, newMover(t, PathHelper), bind(src))
	want := hostTree(t, src)
	checkFailed := errors.New("the check of the archive failed")
	type mode struct {
		name   string
		path   Path
		stream string // EnvHelperStream
	}
	modes := []mode{{"helper-direct", PathHelper, ""}, {"helper-stream", PathHelper, "1"}, {"archive", PathArchive, ""}}
	for _, p := range hostPaths(t) {
		modes = append(modes, mode{"host", p, ""})
	}
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			t.Setenv(EnvHelperStream, md.stream)
			m := newMover(t, md.path)
			helper := newMover(t, PathHelper)
			junk := filepath.Join(tempDir(t), "junk")
			fillJunk(t, junk)
			if md.path == PathArchive { // it cannot delete at the top of a target (see roundTrip)
				must(t, os.RemoveAll(filepath.Join(junk, "extra")))
				must(t, os.Remove(filepath.Join(junk, "extra-link")))
				writeFile(t, filepath.Join(junk, "a/b/extra/file"), []byte("not in the archive"), 0o644, 0, 0)
			}
			junkData, _ := backupBytes(t, helper, bind(junk), BackupOptions{})

			for _, fail := range []bool{true, false} {
				v := newVolume(t)
				restoreBytes(t, helper, vol(v), junkData, RestoreOptions{})
				before := volumeTree(t, helper, v)
				calls, running := 0, 0
				ready := func() error {
					calls++
					res, err := engine(t).ContainerList(ctxT(t), client.ContainerListOptions{
						Filters: make(client.Filters).Add("label", LabelHelper+"="+LabelValueContainer).Add("volume", v).Add("status", "running"),
					})
					must(t, err)
					running = len(res.Items)
					if fail {
						return checkFailed
					}
					return nil
				}
				f, err := os.Open(file)
				must(t, err)
				_, err = m.Restore(ctxT(t), vol(v), f, RestoreOptions{Ready: ready})
				f.Close()
				if calls != 1 {
					t.Errorf("fail=%v: Ready asked %d times, want once", fail, calls)
				}
				if md.path == PathHelper && running != 1 {
					t.Errorf("fail=%v: %d helpers running while Ready was asked, want the one waiting for it", fail, running)
				}
				if fail {
					if !errors.Is(err, checkFailed) {
						t.Fatalf("restore with a failing Ready: %v, want its error", err)
					}
					assertSameTree(t, before, volumeTree(t, helper, v), cmpOpts{})
				} else {
					if err != nil {
						t.Fatalf("restore: %v", err)
					}
					// The engine's archive endpoint keeps mtimes to the second and no user xattrs.
					assertSameTree(t, want, volumeTree(t, helper, v), cmpOpts{secondMtime: md.path == PathArchive, noXattrs: md.path == PathArchive})
				}
				if left := leftoverContainers(t); len(left) > 0 {
					t.Errorf("fail=%v: helpers left: %v", fail, left)
				}
			}
		})
	}
}

// TestHelperDirectHashChecked: the host re-reads the archive the helper wrote into the
// backup dir and compares it with the size and sha256 the helper reported: a file that
// differs (here changed after the helper closed it) fails the backup instead of being
// recorded with the helper's word for it.
func TestHelperDirectHashChecked(t *testing.T) {
	noLeftovers(t)
	t.Setenv(EnvHelperStream, "")
	m := newMover(t, PathHelper)
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	old := afterDirectWrite
	afterDirectWrite = func(file string) {
		f, err := os.OpenFile(file, os.O_RDWR, 0)
		must(t, err)
		defer f.Close()
		b := make([]byte, 1)
		_, err = f.ReadAt(b, 100)
		must(t, err)
		b[0] ^= 0xff
		_, err = f.WriteAt(b, 100)
		must(t, err)
	}
	t.Cleanup(func() { afterDirectWrite = old })
	store := backup.Local(tempDir(t))
	w, err := store.Begin("demo", time.Now())
	must(t, err)
	a, err := w.Create("data.tar.zst")
	must(t, err)
	defer a.Abort()
	_, err = m.Backup(ctxT(t), bind(src), a, BackupOptions{})
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("backup of an archive changed after the helper wrote it: %v, want a sha256 mismatch", err)
	}
}
