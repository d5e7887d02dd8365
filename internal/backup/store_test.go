package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
)

var t0 = time.Date(2026, 11, 25, 22, 15, 30, 0, time.UTC)

func newStore(t *testing.T) Store {
	t.Helper()
	return Local(filepath.Join(t.TempDir(), "backups"))
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// fakeBackup writes a committed backup whose archives hold the given bytes, and returns it.
func fakeBackup(t *testing.T, s Store, proj string, now time.Time, archives map[string]string) *Writer {
	t.Helper()
	w, err := s.Begin(proj, now)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{CreatedAt: now, Reason: "manual", Compression: "none"}
	for name, content := range archives {
		a, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
		sum, size, err := a.Commit()
		if err != nil {
			t.Fatal(err)
		}
		m.Sources = append(m.Sources, Source{Source: project.Source{Name: name, Kind: project.KindVolume, VolumeName: "demo_" + name}, Archive: name, SHA256: sum, ArchiveSize: size})
	}
	if err := w.Commit(m); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestDefaultRoot(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)

	t.Setenv(EnvDir, "")
	t.Setenv("XDG_DATA_HOME", "")
	got, err := DefaultRoot()
	if want := filepath.Join(home, ".local", "share", "docker-maim", "backups"); err != nil || got != want {
		t.Errorf("DefaultRoot() = %q, %v; want %q", got, err, want)
	}

	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	if got, err := DefaultRoot(); err != nil || got != "/xdg/data/docker-maim/backups" {
		t.Errorf("with XDG_DATA_HOME: %q, %v", got, err)
	}
	// a relative XDG_DATA_HOME is invalid per the spec and ignored
	t.Setenv("XDG_DATA_HOME", "rel/data")
	if got, err := DefaultRoot(); err != nil || got != filepath.Join(home, ".local", "share", "docker-maim", "backups") {
		t.Errorf("with a relative XDG_DATA_HOME: %q, %v", got, err)
	}

	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	t.Setenv(EnvDir, "/srv/maim")
	if got, err := DefaultRoot(); err != nil || got != "/srv/maim" {
		t.Errorf("with %s: %q, %v (it wins over XDG_DATA_HOME)", EnvDir, got, err)
	}
	cwd := t.TempDir()
	t.Chdir(cwd)
	t.Setenv(EnvDir, "rel/backups")
	if got, err := DefaultRoot(); err != nil || got != filepath.Join(cwd, "rel", "backups") {
		t.Errorf("a relative %s is made absolute: %q, %v", EnvDir, got, err)
	}
}

func TestBeginIDsSortableWithCollisionSuffix(t *testing.T) {
	s := newStore(t)
	var ids []string
	for i := 0; i < 3; i++ {
		w, err := s.Begin("demo", t0.In(time.FixedZone("CET", 3600)))
		if err != nil {
			t.Fatal(err)
		}
		if !ValidID(w.ID) || w.Dir != s.Dir("demo", w.ID) || w.Project != "demo" {
			t.Fatalf("writer %+v", w)
		}
		ids = append(ids, w.ID)
	}
	if want := []string{"20261125T221530Z", "20261125T221530Z-2", "20261125T221530Z-3"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("IDs = %v, want %v (UTC, suffix on collision)", ids, want)
	}
	later, err := s.Begin("demo", t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if later.ID != "20261125T221531Z" || later.ID <= ids[2] {
		t.Errorf("a later backup %s must sort after %s", later.ID, ids[2])
	}
	if m := mode(t, s.ProjectDir("demo")); m != 0o700 {
		t.Errorf("project dir mode %o, want 700", m)
	}
	if m := mode(t, later.Dir); m != 0o700 {
		t.Errorf("backup dir mode %o, want 700", m)
	}
}

func TestListOrderWithManyCollisions(t *testing.T) {
	// more than nine backups in one second: -10 must still sort after -9
	s := newStore(t)
	var ids []string
	for i := 0; i < 12; i++ {
		w := fakeBackup(t, s, "demo", t0, nil)
		ids = append(ids, w.ID)
	}
	all, err := s.List("demo")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range all {
		got = append(got, e.ID)
	}
	if !reflect.DeepEqual(got, ids) {
		t.Fatalf("List order = %v, want creation order %v", got, ids)
	}
	e, err := s.Get("demo", "")
	if err != nil || e.ID != ids[len(ids)-1] {
		t.Fatalf("Get latest = %s, %v; want %s", e.ID, err, ids[len(ids)-1])
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"20261125T221530Z":     true,
		"20261125T221530Z-2":   true,
		"20261125T221530Z-123": true,
		"20261125T221530":      false,
		"20261125T221530Z-":    false,
		"20261125T221530Z-x":   false,
		"../20261125T221530Z":  false,
		"latest":               false,
		"":                     false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestArchiveCommitHashSizeAndModes(t *testing.T) {
	s := newStore(t)
	w, err := s.Begin("demo", t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.Create("01-vol-data.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(w.Dir, "01-vol-data.tar.zst.partial")
	final := filepath.Join(w.Dir, "01-vol-data.tar.zst")
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("while writing, the archive is a .partial: %v", err)
	}
	if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the final name must not exist before Commit: %v", err)
	}
	data := []byte(strings.Repeat("hello, backup\n", 1000))
	for i := 0; i < len(data); i += 333 {
		end := min(i+333, len(data))
		if _, err := a.Write(data[i:end]); err != nil {
			t.Fatal(err)
		}
	}
	sum, size, err := a.Commit()
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if sum != hex.EncodeToString(want[:]) || size != int64(len(data)) {
		t.Errorf("Commit = %s, %d; want %x, %d", sum, size, want, len(data))
	}
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".partial left behind: %v", err)
	}
	got, err := os.ReadFile(final)
	if err != nil || string(got) != string(data) {
		t.Fatalf("final archive: %v (len %d)", err, len(got))
	}
	if m := mode(t, final); m != 0o600 {
		t.Errorf("archive mode %o, want 600", m)
	}

	for _, bad := range []string{"a/b.tar", `a\b.tar`, "../up.tar", ManifestName} {
		if _, err := w.Create(bad); err == nil {
			t.Errorf("Create(%q) must be refused", bad)
		}
	}
}

func TestArchiveAbortRemovesPartial(t *testing.T) {
	s := newStore(t)
	w, err := s.Begin("demo", t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.Create("02-dir-x.tar")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = a.Write([]byte("half"))
	a.Abort()
	des, _ := os.ReadDir(w.Dir)
	if len(des) != 0 {
		t.Fatalf("after Abort the backup dir holds %v", des)
	}
}

func TestWriterCommitManifestLastAndAbort(t *testing.T) {
	s := newStore(t)
	w, err := s.Begin("demo", t0)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := w.Create("01-vol-data.tar")
	_, _ = a.Write([]byte("abc"))
	sum, size, err := a.Commit()
	if err != nil {
		t.Fatal(err)
	}
	// archives done, manifest not yet: the backup is incomplete
	all, _ := s.List("demo")
	if len(all) != 1 || all[0].Status != StatusIncomplete || all[0].Manifest != nil {
		t.Fatalf("before Commit: %+v", all)
	}
	if err := w.WriteFile("config-merge.json", []byte("[]")); err != nil {
		t.Fatal(err)
	}
	m := &Manifest{ID: "bogus", Project: "bogus", FormatVersion: 99, CreatedAt: t0, Reason: "upgrade", Compression: "none",
		Sources: []Source{{Source: project.Source{Name: "data", Kind: project.KindVolume, VolumeName: "demo_data"}, Archive: "01-vol-data.tar", SHA256: sum, ArchiveSize: size}}}
	if err := w.Commit(m); err != nil {
		t.Fatal(err)
	}
	if m.ID != w.ID || m.Project != "demo" || m.FormatVersion != 1 {
		t.Errorf("Commit must set ID, project and format version: %+v", m)
	}
	mpath := filepath.Join(w.Dir, ManifestName)
	if mode(t, mpath) != 0o600 || mode(t, filepath.Join(w.Dir, "config-merge.json")) != 0o600 {
		t.Errorf("manifest / extra file modes %o / %o, want 600", mode(t, mpath), mode(t, filepath.Join(w.Dir, "config-merge.json")))
	}
	des, _ := os.ReadDir(w.Dir)
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".partial") {
			t.Errorf("%s left behind", de.Name())
		}
	}
	var onDisk Manifest
	b, _ := os.ReadFile(mpath)
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.ID != w.ID || onDisk.Reason != "upgrade" || len(onDisk.Sources) != 1 {
		t.Fatalf("manifest on disk: %v %+v", err, onDisk)
	}
	e, err := s.Get("demo", w.ID)
	if err != nil || e.Status != StatusComplete || e.Manifest.Size() != 3 {
		t.Fatalf("after Commit: %+v, %v", e, err)
	}
	if src, ok := e.Manifest.Source("data"); !ok || src.Archive != "01-vol-data.tar" {
		t.Errorf("Manifest.Source(data) = %+v, %v", src, ok)
	}
	if _, ok := e.Manifest.Source("nope"); ok {
		t.Error("Manifest.Source(nope) found something")
	}

	// Abort after Commit is a no-op
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mpath); err != nil {
		t.Fatalf("Abort after Commit removed the backup: %v", err)
	}

	// Abort before Commit removes everything
	w2, _ := s.Begin("demo", t0)
	a2, _ := w2.Create("x.tar")
	_, _ = a2.Write([]byte("x"))
	_, _, _ = a2.Commit()
	if err := w2.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w2.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Abort left %s: %v", w2.Dir, err)
	}
	if err := w2.Abort(); err != nil {
		t.Fatalf("a second Abort: %v", err)
	}
}

func TestListStatuses(t *testing.T) {
	s := newStore(t)
	ok := fakeBackup(t, s, "demo", t0, map[string]string{"a.tar": "aaaa", "b.tar": "bb"})
	missing := fakeBackup(t, s, "demo", t0.Add(1*time.Second), map[string]string{"a.tar": "aaaa", "b.tar": "bb"})
	_ = os.Remove(filepath.Join(missing.Dir, "b.tar"))
	short := fakeBackup(t, s, "demo", t0.Add(2*time.Second), map[string]string{"a.tar": "aaaa"})
	_ = os.WriteFile(filepath.Join(short.Dir, "a.tar"), []byte("aa"), 0o600)
	badJSON := fakeBackup(t, s, "demo", t0.Add(3*time.Second), nil)
	_ = os.WriteFile(filepath.Join(badJSON.Dir, ManifestName), []byte(`{"format_version": 1, "id": `), 0o600)
	future := fakeBackup(t, s, "demo", t0.Add(4*time.Second), nil)
	_ = os.WriteFile(filepath.Join(future.Dir, ManifestName), []byte(`{"format_version": 5, "id": "x"}`), 0o600)
	zero := fakeBackup(t, s, "demo", t0.Add(5*time.Second), nil)
	_ = os.WriteFile(filepath.Join(zero.Dir, ManifestName), []byte(`{"id": "x"}`), 0o600)
	incomplete, _ := s.Begin("demo", t0.Add(6*time.Second))
	// noise that is not a backup
	_ = os.MkdirAll(filepath.Join(s.ProjectDir("demo"), "not-a-backup"), 0o700)
	_ = os.WriteFile(filepath.Join(s.ProjectDir("demo"), "20261125T221599Z"), nil, 0o600)
	_ = os.WriteFile(filepath.Join(s.ProjectDir("demo"), "journal.json"), []byte("{}"), 0o600)

	all, err := s.List("demo")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id      string
		status  Status
		problem string
	}
	want := []row{
		{ok.ID, StatusComplete, ""},
		{missing.ID, StatusCorrupt, "b.tar: missing"},
		{short.ID, StatusCorrupt, "a.tar: 2 bytes, manifest says 4"},
		{badJSON.ID, StatusCorrupt, "manifest"},
		{future.ID, StatusCorrupt, "format version 5"},
		{zero.ID, StatusCorrupt, "format version 0"},
		{incomplete.ID, StatusIncomplete, "no manifest"},
	}
	if len(all) != len(want) {
		t.Fatalf("List = %+v, want %d entries", all, len(want))
	}
	for i, w := range want {
		e := all[i]
		if e.ID != w.id || e.Status != w.status || !strings.Contains(e.Problem, w.problem) || (w.problem == "") != (e.Problem == "") {
			t.Errorf("entry %d = {%s %s %q}, want {%s %s ~%q}", i, e.ID, e.Status, e.Problem, w.id, w.status, w.problem)
		}
		if (e.Status == StatusComplete) != (e.Manifest != nil) && e.Status != StatusCorrupt {
			t.Errorf("entry %s: manifest %v with status %s", e.ID, e.Manifest != nil, e.Status)
		}
		if e.Dir != s.Dir("demo", e.ID) {
			t.Errorf("entry %s dir %s", e.ID, e.Dir)
		}
	}

	if none, err := s.List("nobody"); err != nil || none != nil {
		t.Errorf("List of a project without backups = %v, %v", none, err)
	}
}

// TestManifestRefusesForgedFields: verify re-hashes archives, not the manifest, so the
// manifest's own fields are checked on read; a forged one makes the backup corrupt.
func TestManifestRefusesForgedFields(t *testing.T) {
	good := Source{Source: project.Source{Name: "data", Kind: project.KindVolume, VolumeName: "p_data"}, Archive: "01-vol-data.tar.zst"}
	bind := Source{Source: project.Source{Name: "./cfg", Kind: project.KindBindDir, HostPath: "/srv/p/cfg"}, Archive: "02-dir-cfg.tar.zst"}
	host := Source{Source: project.Source{Name: "/var/run/docker.sock", Kind: "host-path", HostPath: "/var/run/docker.sock"}}
	for name, tc := range map[string]struct {
		srcs []Source
		bad  string
	}{
		"ok":            {[]Source{good, bind, host}, ""},
		"dotdot":        {[]Source{{Source: good.Source, Archive: "../../x"}}, "separator"},
		"absolute":      {[]Source{{Source: good.Source, Archive: "/etc/passwd"}}, "separator"},
		"parent":        {[]Source{{Source: good.Source, Archive: ".."}}, "not a file name"},
		"manifest":      {[]Source{{Source: good.Source, Archive: ManifestName}}, "manifest"},
		"dup archive":   {[]Source{good, {Source: bind.Source, Archive: good.Archive}}, "twice"},
		"dup name":      {[]Source{good, good}, "duplicate"},
		"kind":          {[]Source{{Source: project.Source{Name: "x", Kind: "device", HostPath: "/dev/sda"}, Archive: "x"}}, "unknown kind"},
		"relative bind": {[]Source{{Source: project.Source{Name: "x", Kind: project.KindBindDir, HostPath: "../etc"}, Archive: "x"}}, "absolute"},
		"volume path":   {[]Source{{Source: project.Source{Name: "x", Kind: project.KindVolume, VolumeName: "../x"}, Archive: "x"}}, "volume name"},
	} {
		b, _ := json.Marshal(Manifest{FormatVersion: FormatVersion, Sources: tc.srcs})
		_, err := decodeManifest(b)
		if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%s: %v, want %q", name, err, tc.bad)
		}
	}
}

func TestGetLatestSkipsIncompleteAndCorrupt(t *testing.T) {
	s := newStore(t)
	if _, err := s.Get("demo", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get latest with no backups: %v, want ErrNotFound", err)
	}
	good := fakeBackup(t, s, "demo", t0, map[string]string{"a.tar": "a"})
	corrupt := fakeBackup(t, s, "demo", t0.Add(time.Second), map[string]string{"a.tar": "a"})
	_ = os.Remove(filepath.Join(corrupt.Dir, "a.tar"))
	_, _ = s.Begin("demo", t0.Add(2*time.Second)) // incomplete, newest
	for _, id := range []string{"", "latest"} {
		e, err := s.Get("demo", id)
		if err != nil || e.ID != good.ID || e.Status != StatusComplete || e.Manifest == nil {
			t.Errorf("Get(%q) = %s %s, %v; want %s", id, e.ID, e.Status, err, good.ID)
		}
	}
	// a named corrupt backup is returned with its status, for the caller to report
	if e, err := s.Get("demo", corrupt.ID); err != nil || e.Status != StatusCorrupt {
		t.Errorf("Get(corrupt) = %+v, %v", e, err)
	}
	_ = os.Remove(filepath.Join(good.Dir, "a.tar"))
	if _, err := s.Get("demo", "latest"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no complete backup left: %v, want ErrNotFound", err)
	}
}

func TestGetUnknownIDWrapsErrNotFound(t *testing.T) {
	s := newStore(t)
	fakeBackup(t, s, "demo", t0, nil)
	for _, id := range []string{"20300101T000000Z", "20261125T221530Z-7", "not-an-id", "../demo", "../../etc"} {
		if _, err := s.Get("demo", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		} else if !strings.Contains(err.Error(), id) {
			t.Errorf("Get(%q): error %q does not name the ID", id, err)
		}
	}
	if _, err := s.Get("other", "20261125T221530Z"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another project's ID: %v", err)
	}
}

func TestRemove(t *testing.T) {
	s := newStore(t)
	w := fakeBackup(t, s, "demo", t0, map[string]string{"a.tar": "a"})
	if err := s.Remove("demo", "../demo"); err == nil {
		t.Fatal("Remove with a bad ID must be refused")
	}
	if err := s.Remove("demo", ""); err == nil {
		t.Fatal("Remove with an empty ID must be refused")
	}
	if _, err := os.Stat(s.ProjectDir("demo")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("demo", w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("backup still there: %v", err)
	}
}
