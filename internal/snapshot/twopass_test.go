package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// digest lists every path below dir with its type, mode, size, mtime and content hash.
func digest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + " " + fi.Mode().String() + " " + fi.ModTime().String())
		if fi.Mode().IsRegular() {
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(c)
			b.WriteString(" " + hex.EncodeToString(s[:]))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTwoPassBackup: pass one (HotPass) while the data changes, pass two (BackupPlanned)
// records a base and a delta per directory source; Verify checks both; a restore applies
// both and gives the final state exactly; a damaged delta fails Verify.
func TestTwoPassBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFiles(t, data, map[string]int{"a.bin": 300 << 10, "sub/b.bin": 700 << 10, "sub/c.bin": 10, "keep.bin": 5000})
	s := &Service{Engine: &fakeEngine{api: "1.41"}, Mover: dirMover{}, Store: backup.Local(t.TempDir())}
	p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
	src := project.Source{Name: "./data", Kind: project.KindBindDir, HostPath: data}

	pl, err := s.PlanBackup(ctx, p, BackupOptions{Sources: []project.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.HotPass(ctx, p, pl); err != nil {
		t.Fatal(err)
	}
	// The services write on until they are stopped.
	writeFiles(t, data, map[string]int{"a.bin": 1000, "new/d.bin": 77})
	if err := os.Remove(filepath.Join(data, "sub", "c.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(data, "sub", "b.bin"), filepath.Join(data, "b-moved.bin")); err != nil {
		t.Fatal(err)
	}
	want := digest(t, data)
	m, err := s.BackupPlanned(ctx, p, pl, &project.Running{Services: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	bs := m.Sources[0]
	if bs.Delta == nil || bs.Delta.Deleted != 2 || bs.Delta.Files < 3 || m.FormatVersion != 2 {
		t.Fatalf("manifest source %+v (delta %+v), format %d: want a base and a delta of at least the 3 changed files (all written within the ctime margin), 2 deletions", bs, bs.Delta, m.FormatVersion)
	}
	entry, err := s.Store.Get(p.Name, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Verify(entry, nil); err != nil {
		t.Fatal(err)
	}

	// Restore onto something else entirely.
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, data, map[string]int{"other.bin": 3 << 10, "a.bin": 5})
	plan := &RestorePlan{Entry: entry, Items: []RestoreItem{{From: entry.Manifest.Sources[0], To: src}}}
	if _, err := s.RestorePlanned(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, data); got != want {
		t.Fatalf("restored:\n%s\nwant:\n%s", got, want)
	}

	// A damaged delta fails verification.
	dpath := filepath.Join(s.Store.Dir(p.Name, m.ID), bs.Delta.Archive)
	b, err := os.ReadFile(dpath)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(dpath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Verify(entry, nil); err == nil || !strings.Contains(err.Error(), bs.Delta.Archive) {
		t.Fatalf("verify of a damaged delta: %v", err)
	}
}

// TestHotPassAbort: a pass one not followed by pass two leaves no backup behind.
func TestHotPassAbort(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFiles(t, data, map[string]int{"a.bin": 10})
	s := &Service{Engine: &fakeEngine{api: "1.41"}, Mover: dirMover{}, Store: backup.Local(t.TempDir())}
	p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
	pl, err := s.PlanBackup(ctx, p, BackupOptions{Sources: []project.Source{{Name: "./data", Kind: project.KindBindDir, HostPath: data}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.HotPass(ctx, p, pl); err != nil {
		t.Fatal(err)
	}
	pl.Abort()
	if l, err := s.Store.List(p.Name); err != nil || len(l) != 0 {
		t.Fatalf("backups left: %v %v", l, err)
	}
}

// TestBackupStartedMeanwhileIsNotCold: a backup taken stopped fails, and keeps nothing,
// when a container of the project runs once its sources are archived (started after the
// caller's stop): it is not a cold backup. A one-off container counts like a service's.
func TestBackupStartedMeanwhileIsNotCold(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFiles(t, data, map[string]int{"a.bin": 10})
	for _, oneoff := range []string{"False", "True"} {
		eng := &fakeEngine{api: "1.41"}
		s := &Service{Engine: eng, Mover: dirMover{}, Store: backup.Local(t.TempDir())}
		p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
		pl, err := s.PlanBackup(ctx, p, BackupOptions{Sources: []project.Source{{Name: "./data", Kind: project.KindBindDir, HostPath: data}}})
		if err != nil {
			t.Fatal(err)
		}
		eng.listed = func() []container.Summary {
			return []container.Summary{{ID: "c1", State: container.StateRunning, Labels: map[string]string{
				project.LabelProject: "demo", project.LabelService: "job", project.LabelOneOff: oneoff}}}
		}
		_, err = s.BackupPlanned(ctx, p, pl, &project.Running{})
		if !errors.Is(err, ErrNotCold) || !strings.Contains(err.Error(), "job") {
			t.Fatalf("oneoff=%s: BackupPlanned = %v, want ErrNotCold naming job", oneoff, err)
		}
		if l, err := s.Store.List(p.Name); err != nil || len(l) != 0 {
			t.Fatalf("backups left: %v %v", l, err)
		}
	}
}
