//go:build unix

package backup

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Root's cron beside the user: the lock file root creates in the user's project folder
// is the user's (as the folder is), so the user's next command can open and take it; a
// lock file that is a symlink is refused, never followed (root would give its target away).
func TestBackupDirLockFileBelongsToTheFoldersOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: root creates the lock file in another user's folder")
	}
	const uid, gid = 65534, 65534 // nobody
	root := filepath.Join(t.TempDir(), "backups")
	s := Local(root)
	s.Origin = Origin{EngineID: "ENGINE-A", UID: "0", User: "root"}
	folder := s.ProjectDir("demo")
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(folder, uid, gid); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock("demo")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	st, err := os.Stat(filepath.Join(folder, LockName))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != uid || sys.Gid != gid || st.Mode().Perm() != 0o600 {
		t.Errorf("lock file: uid %d gid %d mode %o; want the folder owner's %d:%d, 0600", sys.Uid, sys.Gid, st.Mode().Perm(), uid, gid)
	}

	// A symlink planted as the lock file is not followed, and its target keeps its owner.
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("root's file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(folder, LockName)
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, lock); err != nil {
		t.Fatal(err)
	}
	if unlock, err := s.Lock("demo"); err == nil {
		unlock()
		t.Errorf("Lock through a symlinked lock file succeeded")
	}
	if st, err := os.Stat(target); err != nil || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("the symlink's target changed owner: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "root's file\n" {
		t.Errorf("the symlink's target was written: %q", b)
	}
}
