package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/api/types/container"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// digestOpts compare what digest read: a restore of the test's files need not keep their
// owners or extended attributes.
var digestOpts = treediff.Options{IgnoreOwner: true, NoXattrs: true}

// digest describes every path below dir: type, mode, size, mtime, content hash, link target.
func digest(t *testing.T, dir string) treediff.Tree {
	t.Helper()
	return treediff.Of(t, dir)
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
	treediff.AssertSame(t, want, digest(t, data), digestOpts)

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

// wholeMover is a dirMover that cannot archive changes only (the archive API's data path):
// asked for a delta, it writes the whole tree.
type wholeMover struct{ dirMover }

func (m wholeMover) Backup(ctx context.Context, t volume.Target, w io.Writer, opts volume.BackupOptions) (archive.Stats, error) {
	opts.Since, opts.Final = nil, nil // as the archive API: whole archives, no index
	return m.dirMover.Backup(ctx, t, w, opts)
}

// backupFiles lists the files of a backup's directory.
func backupFiles(t *testing.T, s *Service, project, id string) []string {
	t.Helper()
	ents, err := os.ReadDir(s.Store.Dir(project, id))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// TestTwoPassFallbackLeavesNoOrphan: when pass two cannot archive changes only (its data
// path writes whole archives) the source is archived whole, stopped, and that archive is
// its only one: the backup's directory holds the manifest and exactly the archives it
// references, and the restore gives the final state. So does a source that pass one
// archived and pass two finds gone. Before, pass one's hot base stayed in the directory,
// referenced by nothing.
func TestTwoPassFallbackLeavesNoOrphan(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data, gone := filepath.Join(dir, "data"), filepath.Join(dir, "gone")
	writeFiles(t, data, map[string]int{"a.bin": 3000, "sub/b.bin": 700})
	writeFiles(t, gone, map[string]int{"x.bin": 10})
	s := &Service{Engine: &fakeEngine{api: "1.41"}, Mover: dirMover{}, Store: backup.Local(t.TempDir())}
	p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
	src := project.Source{Name: "./data", Kind: project.KindBindDir, HostPath: data}
	pl, err := s.PlanBackup(ctx, p, BackupOptions{Sources: []project.Source{src, {Name: "./gone", Kind: project.KindBindDir, HostPath: gone}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.HotPass(ctx, p, pl); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, data, map[string]int{"a.bin": 10, "new.bin": 5})
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	want := digest(t, data)
	s.Mover = wholeMover{}
	m, err := s.BackupPlanned(ctx, p, pl, &project.Running{Services: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Sources) != 1 || m.Sources[0].Delta != nil {
		t.Fatalf("manifest sources %+v: want ./data alone, archived whole", m.Sources)
	}
	bs := m.Sources[0]
	if got, want := backupFiles(t, s, p.Name, m.ID), []string{bs.Archive, backup.ManifestName}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("backup dir holds %v, want %v: nothing the manifest does not reference", got, want)
	}
	entry, err := s.Store.Get(p.Name, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Verify(entry, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	plan := &RestorePlan{Entry: entry, Items: []RestoreItem{{From: bs, To: src}}}
	if _, err := s.RestorePlanned(ctx, plan); err != nil {
		t.Fatal(err)
	}
	treediff.AssertSame(t, want, digest(t, data), digestOpts)
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
