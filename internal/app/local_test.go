package app

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
)

// The store of a scope is rooted at its backup dir with symlinks resolved (the data-source
// guard compares real places), else at the default root (MAIM_BACKUP_DIR here).
func TestStoreRootIsResolved(t *testing.T) {
	tmp := t.TempDir()
	real := filepath.Join(tmp, "real")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(tmp, "link")); err != nil {
		t.Fatal(err)
	}
	realAbs, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store(api.Scope{BackupDir: filepath.Join(tmp, "link", "sub")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.LocalRoot(), filepath.Join(realAbs, "sub"); got != want {
		t.Errorf("--backup-dir through a link: root %s, want %s", got, want)
	}
	t.Setenv(backup.EnvDir, filepath.Join(tmp, "link"))
	if st, err = store(api.Scope{}); err != nil || st.LocalRoot() != realAbs {
		t.Errorf("default root: %s, %v; want %s", st.LocalRoot(), err, realAbs)
	}
}

// KnownProjects lists the project dirs under every engine's state dir, files aside.
func TestKnownProjectsAcrossEngines(t *testing.T) {
	root := t.TempDir()
	t.Setenv(backup.EnvStateDir, root)
	for _, d := range []string{"engine-a/demo", "engine-a/bot", "engine-b/demo", "engine-b/web"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"stray", "engine-a/lockfile"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := New(nil, api.Config{}).KnownProjects()
	sort.Strings(got)
	if want := []string{"bot", "demo", "demo", "web"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
