package backup_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/backup/backuptest"
)

func TestLocalDirConformance(t *testing.T) {
	backuptest.Conformance(t, func(t *testing.T) backup.Repository {
		return backup.LocalDir{Root: filepath.Join(t.TempDir(), "backups")}
	})
}

// The local directory keeps its layout and modes: <root>/<project>/<ID>/<name>, 0700 and
// 0600, and lists only directories (the files an older docker-maim kept beside the
// backups, journal.json and history.jsonl, are no backups).
func TestLocalDirLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "backups")
	r := backup.LocalDir{Root: root}
	if err := r.Mkdir("demo", "20261125T221530Z"); err != nil {
		t.Fatal(err)
	}
	up, err := r.Create("demo", "20261125T221530Z", "x.tar")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "demo", "20261125T221530Z", "x.tar.partial")); err != nil {
		t.Errorf("no .partial while writing: %v", err)
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "demo", "journal.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(root, "demo"):                              0o700,
		filepath.Join(root, "demo", "20261125T221530Z"):          0o700,
		filepath.Join(root, "demo", "20261125T221530Z", "x.tar"): 0o600,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, st.Mode().Perm(), want)
		}
	}
	ids, err := r.List("demo")
	if err != nil || len(ids) != 1 || ids[0] != "20261125T221530Z" {
		t.Errorf("List = %v, %v", ids, err)
	}
	if r.Location("demo", "20261125T221530Z") != filepath.Join(root, "demo", "20261125T221530Z") {
		t.Errorf("Location = %s", r.Location("demo", "20261125T221530Z"))
	}
	if r.FreeBytes() <= 0 {
		t.Errorf("FreeBytes = %d on a local disk", r.FreeBytes())
	}
}
