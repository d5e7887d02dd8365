package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/crypt"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// statTree is what lstat says now of every path below root, as index entries.
func statTree(t *testing.T, root string) map[string]archive.IndexEntry {
	t.Helper()
	out := map[string]archive.IndexEntry{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		}
		st := fi.Sys().(*syscall.Stat_t)
		out[filepath.ToSlash(rel)] = archive.IndexEntry{Mode: st.Mode, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
			Dev: st.Dev, Ino: st.Ino, Uid: st.Uid, Gid: st.Gid, Nlink: uint32(st.Nlink)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertIndexIsTree fails unless x holds exactly the paths of root, each as lstat says it is.
func assertIndexIsTree(t *testing.T, x *archive.Index, root string) {
	t.Helper()
	want := statTree(t, root)
	for p, e := range want {
		if got, ok := x.Entries[p]; !ok || got != e {
			t.Errorf("index entry %q = %+v (present %v), the tree has %+v", p, got, ok, e)
		}
	}
	for p := range x.Entries {
		if _, ok := want[p]; !ok {
			t.Errorf("index holds %q, the tree does not", p)
		}
	}
}

// TestFinalIndexKept: a two-pass backup keeps its source's final index beside the archives:
// pass one's entries with what pass two rewrote (a file written between the passes) and
// deleted (a removed file, a moved one) updated, exactly the tree as pass two left it, the
// manifest recording its file, hash, size and entry count. A one-pass backup keeps one too.
// Verify reads it back; a damaged index fails Verify, naming the index file.
func TestFinalIndexKept(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFiles(t, data, map[string]int{"a.bin": 3000, "sub/b.bin": 700, "sub/c.bin": 10, "keep.bin": 50})
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
	writeFiles(t, data, map[string]int{"a.bin": 10, "new/d.bin": 77})
	if err := os.Remove(filepath.Join(data, "sub", "c.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(data, "sub", "b.bin"), filepath.Join(data, "b-moved.bin")); err != nil {
		t.Fatal(err)
	}
	m, err := s.BackupPlanned(ctx, p, pl, &project.Running{Services: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	bs := m.Sources[0]
	if bs.Delta == nil || bs.Index == nil || bs.Index.File != "01-dir-data.index.zst" {
		t.Fatalf("source %+v: want a delta and an index file", bs)
	}
	entry, err := s.Store.Get(p.Name, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	x, err := s.Store.ReadIndex(entry, entry.Manifest.Sources[0])
	if err != nil {
		t.Fatal(err)
	}
	if x.OnePass != "" || int64(len(x.Entries)) != bs.Index.Entries {
		t.Fatalf("index: one-pass %q, %d entries, manifest says %d", x.OnePass, len(x.Entries), bs.Index.Entries)
	}
	assertIndexIsTree(t, x, data)
	if err := s.Store.Verify(entry, nil); err != nil {
		t.Fatal(err)
	}
	if entry.Manifest.Size() != bs.ArchiveSize+bs.Delta.ArchiveSize+bs.Index.Size {
		t.Fatalf("manifest size %d leaves the index out", entry.Manifest.Size())
	}
	got := append(entry.Manifest.Files(), backup.ManifestName)
	sort.Strings(got)
	if want := backupFiles(t, s, p.Name, m.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("manifest files and itself %v, the backup dir holds %v", got, want)
	}

	ipath := filepath.Join(s.Store.Dir(p.Name, m.ID), bs.Index.File)
	b, err := os.ReadFile(ipath)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(ipath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Verify(entry, nil); err == nil || !strings.Contains(err.Error(), bs.Index.File) {
		t.Fatalf("verify of a damaged index: %v", err)
	}
	if _, err := s.Store.ReadIndex(entry, entry.Manifest.Sources[0]); err == nil {
		t.Fatal("ReadIndex of a damaged index succeeded")
	}

	// One pass (no HotPass): the index is the tree as that pass read it.
	pl, err = s.PlanBackup(ctx, p, BackupOptions{Sources: []project.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	m, err = s.BackupPlanned(ctx, p, pl, &project.Running{Services: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	entry, err = s.Store.Get(p.Name, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if x, err = s.Store.ReadIndex(entry, entry.Manifest.Sources[0]); err != nil || x == nil {
		t.Fatalf("one-pass index: %v %v", x, err)
	}
	assertIndexIsTree(t, x, data)
}

// TestRestoreIsDifferential: a restore of a two-pass backup into the tree it was taken of
// rewrites only what changed since (a file rewritten with its size kept, a new file removed,
// a deleted one written back), leaves the rest untouched (same inode and ctime), says how
// many files it rewrote, and gives the backup's tree exactly.
func TestRestoreIsDifferential(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFiles(t, data, map[string]int{"a.bin": 3000, "sub/b.bin": 700, "sub/c.bin": 10, "keep.bin": 50 << 10})
	time.Sleep(treeindex.CtimeMargin + 1100*time.Millisecond) // older than the backup's margin
	var buf bytes.Buffer
	rep, err := progress.New(progress.JSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{Engine: &fakeEngine{api: "1.41"}, Mover: dirMover{}, Store: backup.Local(t.TempDir()), Progress: rep}
	p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
	src := project.Source{Name: "./data", Kind: project.KindBindDir, HostPath: data}
	pl, err := s.PlanBackup(ctx, p, BackupOptions{Sources: []project.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.HotPass(ctx, p, pl); err != nil {
		t.Fatal(err)
	}
	m, err := s.BackupPlanned(ctx, p, pl, &project.Running{Services: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	want := digest(t, data)
	var before unix.Stat_t
	if err := unix.Lstat(filepath.Join(data, "keep.bin"), &before); err != nil {
		t.Fatal(err)
	}
	// The upgraded service changes a little.
	writeFiles(t, data, map[string]int{"a.bin": 3000, "new.bin": 5})
	if err := os.Remove(filepath.Join(data, "sub", "c.bin")); err != nil {
		t.Fatal(err)
	}
	entry, err := s.Store.Get(p.Name, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	plan := &RestorePlan{Entry: entry, Items: []RestoreItem{{From: entry.Manifest.Sources[0], To: src}}}
	if _, err := s.RestorePlanned(ctx, plan); err != nil {
		t.Fatal(err)
	}
	treediff.AssertSame(t, want, digest(t, data), digestOpts)
	var after unix.Stat_t
	if err := unix.Lstat(filepath.Join(data, "keep.bin"), &after); err != nil {
		t.Fatal(err)
	}
	if after.Ino != before.Ino || after.Ctim != before.Ctim {
		t.Error("keep.bin, untouched, was rewritten")
	}
	if !strings.Contains(buf.String(), "differential restore: 2 of 4 files rewritten, 1 path(s) removed") {
		t.Errorf("no event of a differential restore of a.bin and c.bin:\n%s", buf.String())
	}
}

// TestNoStopIndexInexact: a backup taken while the services run keeps an index marked
// inexact, so a restore of it is a full extraction.
func TestNoStopIndexInexact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFiles(t, data, map[string]int{"a.bin": 30})
	s := &Service{Engine: &fakeEngine{api: "1.41"}, Mover: dirMover{}, Store: backup.Local(t.TempDir())}
	p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
	src := project.Source{Name: "./data", Kind: project.KindBindDir, HostPath: data}
	m, err := s.Backup(ctx, p, BackupOptions{NoStop: true, Sources: []project.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	entry, err := s.Store.Get(p.Name, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	x, err := s.Store.ReadIndex(entry, entry.Manifest.Sources[0])
	if err != nil || x == nil || !strings.Contains(x.OnePass, "--no-stop") {
		t.Fatalf("index of a --no-stop backup: %+v, %v: want it marked inexact", x, err)
	}
}

// TestSealedBackupKeepsNoIndex: a backup sealed at rest keeps no index (it would name every
// path in the clear, and sealed archives cannot be read at random): its restore is full.
func TestSealedBackupKeepsNoIndex(t *testing.T) {
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rcpts, err := crypt.ParseRecipients([]string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFiles(t, data, map[string]int{"a.bin": 30})
	st := backup.Local(t.TempDir())
	st.Seal = rcpts
	s := &Service{Engine: &fakeEngine{api: "1.41"}, Mover: dirMover{}, Store: st}
	p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
	src := project.Source{Name: "./data", Kind: project.KindBindDir, HostPath: data}
	m, err := s.Backup(ctx, p, BackupOptions{Stopped: &project.Running{}, Sources: []project.Source{src}})
	if err != nil {
		t.Fatal(err)
	}
	if bs := m.Sources[0]; bs.Plain == nil || bs.Index != nil {
		t.Fatalf("sealed source %+v: want sealed and no index", bs)
	}
	for _, f := range backupFiles(t, s, p.Name, m.ID) {
		if strings.Contains(f, ".index") {
			t.Fatalf("a sealed backup holds %s", f)
		}
	}
}
