package snapshot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// incRig is a bind-dir source backed up on this host (dirMover) into a local store.
type incRig struct {
	t    *testing.T
	s    *Service
	p    *project.Project
	src  project.Source
	data string
}

func newIncRig(t *testing.T) *incRig {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	return &incRig{t: t, data: data,
		s:   &Service{Engine: &fakeEngine{api: "1.41"}, Mover: dirMover{}, Store: backup.Local(t.TempDir())},
		p:   &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}},
		src: project.Source{Name: "./data", Kind: project.KindBindDir, HostPath: data}}
}

// backup takes a backup of the source: two-pass (a hot pass, then the changes) or one pass.
func (r *incRig) backup(twoPass bool, opts BackupOptions) backup.Source {
	r.t.Helper()
	ctx := context.Background()
	opts.Sources = []project.Source{r.src}
	pl, err := r.s.PlanBackup(ctx, r.p, opts)
	if err != nil {
		r.t.Fatal(err)
	}
	if twoPass {
		if err := r.s.HotPass(ctx, r.p, pl); err != nil {
			r.t.Fatal(err)
		}
	}
	m, err := r.s.BackupPlanned(ctx, r.p, pl, &project.Running{Services: []string{"app"}})
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := r.s.Store.Get(r.p.Name, m.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.s.Store.Verify(e, nil); err != nil {
		r.t.Fatalf("verify %s: %v", m.ID, err)
	}
	bs := m.Sources[0]
	bs.Name = m.ID // the test's handle: which backup
	return bs
}

// restore writes backup id over the source (after scrambling it) and compares with want.
func (r *incRig) restore(id string, want treediff.Tree) {
	r.t.Helper()
	writeFiles(r.t, r.data, map[string]int{"scramble.bin": 123, "a.bin": 1})
	e, err := r.s.Store.Get(r.p.Name, id)
	if err != nil {
		r.t.Fatal(err)
	}
	plan := &RestorePlan{Entry: e, Items: []RestoreItem{{From: e.Manifest.Sources[0], To: r.src}}}
	if _, err := r.s.RestorePlanned(context.Background(), plan); err != nil {
		r.t.Fatalf("restore %s: %v", id, err)
	}
	treediff.AssertSame(r.t, want, digest(r.t, r.data), digestOpts)
}

// TestIncrementalChain: a full backup, then two incremental ones (two-pass, then one pass)
// with files changed, deleted, renamed and a directory removed between them: each records
// its base (depth 1, 2), holds only what changed, verifies, and restores byte-exact over
// anything; --full and MaxDeltas start afresh; a tree recreated under the same path (another
// root inode) breaks the exactness condition and is taken whole.
func TestIncrementalChain(t *testing.T) {
	r := newIncRig(t)
	writeFiles(t, r.data, map[string]int{"a.bin": 300 << 10, "sub/b.bin": 700 << 10, "sub/c.bin": 10, "keep.bin": 5000, "big/x.bin": 2 << 20})
	want1 := digest(t, r.data)
	b1 := r.backup(false, BackupOptions{})
	if b1.Base != nil {
		t.Fatalf("the first backup has a base: %+v", b1.Base)
	}

	writeFiles(t, r.data, map[string]int{"a.bin": 1000, "new/d.bin": 77})
	must(t, os.Remove(filepath.Join(r.data, "sub", "c.bin")))
	must(t, os.Rename(filepath.Join(r.data, "sub", "b.bin"), filepath.Join(r.data, "b-moved.bin")))
	want2 := digest(t, r.data)
	b2 := r.backup(true, BackupOptions{})
	if b2.Base == nil || b2.Base.ID != b1.Name || b2.Base.Depth != 1 || b2.Base.Deleted == 0 {
		t.Fatalf("second backup's base %+v, want %s at depth 1 with deletions", b2.Base, b1.Name)
	}

	must(t, os.RemoveAll(filepath.Join(r.data, "new")))
	must(t, os.Chmod(filepath.Join(r.data, "keep.bin"), 0o600))
	want3 := digest(t, r.data)
	b3 := r.backup(false, BackupOptions{})
	if b3.Base == nil || b3.Base.ID != b2.Name || b3.Base.Depth != 2 {
		t.Fatalf("third backup's base %+v, want %s at depth 2", b3.Base, b2.Name)
	}

	r.restore(b1.Name, want1)
	r.restore(b3.Name, want3)
	r.restore(b2.Name, want2)
	r.restore(b3.Name, want3)

	if b4 := r.backup(false, BackupOptions{Full: true}); b4.Base != nil {
		t.Errorf("--full: base %+v", b4.Base)
	}
	if b5 := r.backup(false, BackupOptions{MaxDeltas: 1}); b5.Base == nil || b5.Base.Depth != 1 {
		t.Errorf("after a full backup: base %+v, want depth 1", b5.Base)
	}
	if b6 := r.backup(true, BackupOptions{MaxDeltas: 1}); b6.Base != nil {
		t.Errorf("MaxDeltas 1 reached: base %+v, want a full backup", b6.Base)
	}

	// The same content under the same path, but another tree (a volume recreated and
	// refilled): the index of the last backup cannot say what changed in it.
	moved := r.data + ".old"
	must(t, os.Rename(r.data, moved))
	writeFiles(t, r.data, map[string]int{"a.bin": 1000, "sub/x.bin": 5})
	want7 := digest(t, r.data)
	b7 := r.backup(false, BackupOptions{})
	if b7.Base != nil {
		t.Fatalf("another tree under the same path was taken incrementally: base %+v", b7.Base)
	}
	r.restore(b7.Name, want7)

	// A --no-stop backup is whole and is no base: a process may have stored through a
	// mapping while it was read without moving any time.
	if b8 := r.backup(false, BackupOptions{NoStop: true}); b8.Base != nil {
		t.Errorf("--no-stop: base %+v", b8.Base)
	}
	if b9 := r.backup(false, BackupOptions{}); b9.Base != nil || !strings.Contains(b9.Full, "--no-stop") {
		t.Errorf("after a --no-stop backup: base %+v, full %q; want whole, saying why", b9.Base, b9.Full)
	}
}

// TestIncrementalUnchangedReused: with policy changed, a source that did not change since
// the last backup references that backup's files (no archive of its own; Ref), a restore
// of it is exact, prune-relevant needs name the backup, and the next change is archived as
// an increment over it.
func TestIncrementalUnchangedReused(t *testing.T) {
	r := newIncRig(t)
	r.src.Policy = api.PolicyChanged
	writeFiles(t, r.data, map[string]int{"a.bin": 300 << 10, "sub/b.bin": 4000})
	// Files written within the ctime margin of a backup's start count as changed: let the
	// clock move past it (a file system clock is coarse), so the files are settled.
	time.Sleep(3500 * time.Millisecond)
	want := digest(t, r.data)
	b1 := r.backup(true, BackupOptions{})
	b2 := r.backup(true, BackupOptions{})
	if b2.Ref != b1.Name || b2.Archive != b1.Archive || b2.Base != nil {
		t.Fatalf("unchanged source: ref %q archive %q base %+v, want backup %s's %s", b2.Ref, b2.Archive, b2.Base, b1.Name, b1.Archive)
	}
	e2, err := r.s.Store.Get(r.p.Name, b2.Name)
	if err != nil {
		t.Fatal(err)
	}
	if n := e2.Manifest.OwnSize(); n != 0 || e2.Manifest.Referenced() == 0 {
		t.Errorf("backup %s holds %d bytes of its own, references %d: want 0 and the base's", b2.Name, n, e2.Manifest.Referenced())
	}
	if got := e2.Manifest.Needs(); len(got) != 1 || got[0] != b1.Name {
		t.Errorf("needs %v, want [%s]", got, b1.Name)
	}
	files := backupFiles(t, r.s, r.p.Name, b2.Name)
	if len(files) != 1 || files[0] != backup.ManifestName {
		t.Errorf("an unchanged source left files in its backup: %v", files)
	}
	r.restore(b2.Name, want)

	writeFiles(t, r.data, map[string]int{"c.bin": 10})
	want3 := digest(t, r.data)
	b3 := r.backup(false, BackupOptions{})
	if b3.Base == nil || b3.Base.ID != b2.Name || b3.Ref != "" {
		t.Fatalf("changed again: base %+v ref %q, want an increment over %s", b3.Base, b3.Ref, b2.Name)
	}
	r.restore(b3.Name, want3)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestIncrementalChainRestoresDifferentially: the backup an upgrade takes is often an
// increment over an earlier one; rolling back to it must still rewrite only what differs.
// A full backup, then an increment (files changed, one deleted, one added); then the
// service changes the tree again. The restore of the increment reads the chain at random:
// the tree is the increment's exactly, an untouched file keeps its inode and ctime, and the
// event says it was differential.
func TestIncrementalChainRestoresDifferentially(t *testing.T) {
	r := newIncRig(t)
	var buf bytes.Buffer
	rep, err := progress.New(progress.JSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r.s.Progress = rep
	writeFiles(t, r.data, map[string]int{"a.bin": 3000, "sub/b.bin": 700, "sub/c.bin": 10, "keep.bin": 50 << 10})
	time.Sleep(treeindex.CtimeMargin + 1100*time.Millisecond) // older than the backups' margins
	b1 := r.backup(true, BackupOptions{})
	writeFiles(t, r.data, map[string]int{"a.bin": 1000, "new/d.bin": 77})
	must(t, os.Remove(filepath.Join(r.data, "sub", "c.bin")))
	want := digest(t, r.data)
	b2 := r.backup(true, BackupOptions{})
	if b2.Base == nil || b2.Base.ID != b1.Name {
		t.Fatalf("the second backup is no increment over %s: base %+v", b1.Name, b2.Base)
	}
	var before unix.Stat_t
	must(t, unix.Lstat(filepath.Join(r.data, "keep.bin"), &before))
	// The new version changes a little: a file rewritten, one added, one removed.
	writeFiles(t, r.data, map[string]int{"a.bin": 1000, "other.bin": 5})
	must(t, os.Remove(filepath.Join(r.data, "new", "d.bin")))
	e, err := r.s.Store.Get(r.p.Name, b2.Name)
	if err != nil {
		t.Fatal(err)
	}
	plan := &RestorePlan{Entry: e, Items: []RestoreItem{{From: e.Manifest.Sources[0], To: r.src}}}
	if _, err := r.s.RestorePlanned(context.Background(), plan); err != nil {
		t.Fatal(err)
	}
	treediff.AssertSame(t, want, digest(t, r.data), digestOpts)
	var after unix.Stat_t
	must(t, unix.Lstat(filepath.Join(r.data, "keep.bin"), &after))
	if after.Ino != before.Ino || after.Ctim != before.Ctim {
		t.Error("keep.bin, untouched since the full backup, was rewritten")
	}
	if !strings.Contains(buf.String(), "differential restore:") || strings.Contains(buf.String(), "restored in full") {
		t.Errorf("the increment was not restored differentially:\n%s", buf.String())
	}
}
