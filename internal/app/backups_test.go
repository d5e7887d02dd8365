package app

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// commitBackup writes a complete backup of project demo: one tar of one file holding content.
func commitBackup(t *testing.T, store backup.Store, at time.Time, content string, versions map[string]string) string {
	t.Helper()
	w, err := store.Begin("demo", at)
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.Create("data.tar")
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(a)
	if err := tw.WriteHeader(&tar.Header{Name: "file", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	sum, size, err := a.Commit()
	if err != nil {
		t.Fatal(err)
	}
	m := &backup.Manifest{CreatedAt: at, Reason: "manual", Compression: "none", ToolVersion: "test", AppVersions: versions,
		Sources: []backup.Source{{Source: project.Source{Name: "data", Kind: project.KindVolume, VolumeName: "demo_data"},
			Archive: "data.tar", SHA256: sum, ArchiveSize: size, Entries: 1, Files: 1, Bytes: int64(len(content))}}}
	if err := w.Commit(m); err != nil {
		t.Fatal(err)
	}
	return w.ID
}

// backups lists a real store newest first, as rows with the manifest's facts; an unfinished
// backup is listed with its status.
func TestListBackupsNewestFirst(t *testing.T) {
	store := backup.Local(filepath.Join(t.TempDir(), "backups"))
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	old := commitBackup(t, store, at, "old", nil)
	recent := commitBackup(t, store, at.Add(time.Hour), "recent!", map[string]string{"maibot.db_schema": "3"})
	unfinished, err := store.Begin("demo", at.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	res, err := listBackups(store, "demo", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Project != "demo" || len(res.Backups) != 3 {
		t.Fatalf("got %+v", res)
	}
	if ids := []string{res.Backups[0].ID, res.Backups[1].ID, res.Backups[2].ID}; ids[0] != unfinished.ID || ids[1] != recent || ids[2] != old {
		t.Errorf("order %v, want newest first", ids)
	}
	r := res.Backups[1]
	if r.Status != backup.StatusComplete || r.Project != "demo" || r.Reason != "manual" || r.Bytes != 7 || r.ToolVersion != "test" ||
		len(r.Sources) != 1 || r.Sources[0] != "data" || r.AppVersions["maibot.db_schema"] != "3" || !r.Time.Equal(at.Add(time.Hour)) {
		t.Errorf("row: %+v", r)
	}
	if u := res.Backups[0]; u.Status == backup.StatusComplete || u.Sources == nil {
		t.Errorf("unfinished row: %+v", u)
	}

	empty, err := listBackups(store, "other", true)
	if err != nil || empty.Backups == nil || len(empty.Backups) != 0 {
		t.Errorf("no backups: %+v, %v (want an empty list, not null)", empty, err)
	}
}

// verify answers an intact backup with its counts, a damaged one with *api.VerifyError and
// an unknown ID with api.ErrNotFound.
func TestVerifyBackupErrorKinds(t *testing.T) {
	store := backup.Local(filepath.Join(t.TempDir(), "backups"))
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	good := commitBackup(t, store, at, "intact", nil)
	bad := commitBackup(t, store, at.Add(time.Hour), "damaged", nil)

	res, err := verifyBackup(store, "demo", good)
	if err != nil {
		t.Fatal(err)
	}
	if want := (api.VerifyResult{ID: good, Project: "demo", Intact: true, Archives: 1, Bytes: 6, Size: res.Size, Location: api.LocationLocal}); *res != want || res.Size <= 0 {
		t.Errorf("got %+v, want %+v", *res, want)
	}

	if err := os.WriteFile(filepath.Join(store.Dir("demo", bad), "data.tar"), []byte("DAMAGED"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ve *api.VerifyError
	if _, err := verifyBackup(store, "demo", bad); !errors.As(err, &ve) {
		t.Errorf("damaged: %v, want *api.VerifyError", err)
	}
	if _, err := verifyBackup(store, "demo", "20991231T000000Z"); !errors.Is(err, api.ErrNotFound) || errors.As(err, &ve) {
		t.Errorf("unknown ID: %v, want api.ErrNotFound", err)
	}
}
