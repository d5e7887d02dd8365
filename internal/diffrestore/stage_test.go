package diffrestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// cloneIndex copies idx (Stage and Restore consume theirs).
func cloneIndex(t *testing.T, idx *treeindex.Index) *treeindex.Index {
	t.Helper()
	var b bytes.Buffer
	if _, err := idx.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	c, err := treeindex.Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func archivesOf(t *testing.T, file string) []Archive {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	return []Archive{{Name: filepath.Base(file), R: f, Size: fi.Size()}}
}

// stageDirs lists the stage directories at root.
func stageDirs(t *testing.T, root string) []string {
	t.Helper()
	names, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if IsStageName(n.Name()) {
			out = append(out, n.Name())
		}
	}
	return out
}

// TestTwoPassStage: pass one stages the backup's version of every file the restore will
// rewrite while the tree can still change; then, before pass two, the app rewrites a staged
// target path, and something modifies, deletes and replaces staged files in the stage dir.
// Pass two renames only the staged files nobody touched, extracts the rest, removes the
// stage dir, and the result is byte-exact (equal to the tree at the backup and to a full
// extraction). A user's own ".maim-stage-foo" directory is data: backed up and restored.
func TestTwoPassStage(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	fixture(t, root)
	must(t, os.MkdirAll(filepath.Join(root, ".maim-stage-foo"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, ".maim-stage-foo/mine"), []byte("user data"), 0o644))
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5"} {
		must(t, os.WriteFile(filepath.Join(root, "d", n), []byte(strings.Repeat(n, 5000)), 0o640))
	}
	settle()
	idx, file := backup(t, root, archive.Zstd)
	if idx.OnePass != "" {
		t.Skipf("the test dir is not on an exact file system: %s", idx.OnePass)
	}
	want := treediff.Of(t, root)

	// The upgrade's changes: every staged file below.
	sameSizeSameMtime(t, filepath.Join(root, "b.bin"))
	must(t, os.Remove(filepath.Join(root, "c.bin")))
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5"} {
		must(t, os.WriteFile(filepath.Join(root, "d", n), []byte("changed "+n), 0o640))
	}
	must(t, os.WriteFile(filepath.Join(root, ".maim-stage-foo/mine"), []byte("changed"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "d/new.bin"), []byte("new"), 0o644))

	sr, err := Stage(context.Background(), root, cloneIndex(t, idx), archivesOf(t, file), Options{})
	if err != nil || sr.Fallback != "" {
		t.Fatalf("stage: %v %s", err, sr.Fallback)
	}
	st := sr.Staged
	byPath := map[string]StagedFile{}
	for _, f := range st.Files {
		byPath[f.Path] = f
	}
	for _, p := range []string{"b.bin", "c.bin", "d/s1", "d/s2", "d/s3", "d/s4", "d/s5", ".maim-stage-foo/mine"} {
		if _, ok := byPath[p]; !ok {
			t.Fatalf("%s was not staged: %+v", p, st.Files)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "d/new.bin")); err != nil {
		t.Fatal("pass one touched the target:", err)
	}
	stage := filepath.Join(root, st.Dir)
	// The app rewrites a staged target path after pass one; something writes into the stage.
	must(t, os.WriteFile(filepath.Join(root, "d/s1"), []byte("rewritten after staging"), 0o640))
	must(t, os.WriteFile(filepath.Join(stage, byPath["d/s2"].Name), []byte("tampered"), 0o640))
	must(t, os.Remove(filepath.Join(stage, byPath["d/s3"].Name)))
	b, _ := os.ReadFile(filepath.Join(stage, byPath["d/s4"].Name))
	must(t, os.Remove(filepath.Join(stage, byPath["d/s4"].Name)))
	must(t, os.WriteFile(filepath.Join(stage, byPath["d/s4"].Name), b, 0o640)) // same content, another inode
	must(t, os.WriteFile(filepath.Join(root, "c.bin"), []byte("appeared"), 0o644))

	res, err := Restore(context.Background(), root, cloneIndex(t, idx), archivesOf(t, file), Options{Staged: st})
	if err != nil || res.Fallback != "" {
		t.Fatalf("restore: %v %s", err, res.Fallback)
	}
	treediff.AssertSame(t, want, treediff.Of(t, root), opts)
	treediff.AssertSame(t, treediff.Of(t, full(t, file, archive.Zstd)), treediff.Of(t, root), opts)
	if left := stageDirs(t, root); len(left) != 0 {
		t.Fatalf("stage dirs left: %v", left)
	}
	// Renamed: b.bin, d/s5, .maim-stage-foo/mine; extracted: c.bin (replaced), d/s1..s4.
	if res.Renamed != 3 || res.Removed != 1 {
		t.Errorf("%s, %d removed; want 3 renamed and d/new.bin removed", res.Progress(), res.Removed)
	}
}

// TestStageDropped: a failure before the stop drops the stage (DropStage) and leaves the
// target as pass one found it (but the root's times); a name of another form is refused.
func TestStageDropped(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	fixture(t, root)
	settle()
	idx, file := backup(t, root, archive.Zstd)
	if idx.OnePass != "" {
		t.Skipf("the test dir is not on an exact file system: %s", idx.OnePass)
	}
	sameSizeSameMtime(t, filepath.Join(root, "b.bin"))
	before := treediff.Of(t, root)
	sr, err := Stage(context.Background(), root, cloneIndex(t, idx), archivesOf(t, file), Options{})
	if err != nil || sr.Staged == nil || sr.Files != 1 {
		t.Fatalf("stage: %v %+v", err, sr)
	}
	if err := DropStage(root, ".maim-stage-foo"); err == nil {
		t.Fatal("a name of another form was accepted")
	}
	must(t, DropStage(root, sr.Staged.Dir))
	// Everything as it was but the root's times: the stage dir was made and removed in it.
	after := treediff.Of(t, root)
	delete(before, ".")
	delete(after, ".")
	treediff.AssertSame(t, before, after, opts)
}

// TestStageRecord: the record survives its trip and refuses names out of the stage.
func TestStageRecord(t *testing.T) {
	name, err := NewStageName()
	if err != nil || !IsStageName(name) || IsStageName(".maim-stage-foo") {
		t.Fatalf("%q %v", name, err)
	}
	st := &Staged{Dir: name, Files: []StagedFile{{Path: "a/b", Name: "1"}}}
	b, err := st.Marshal()
	must(t, err)
	if got, err := UnmarshalStaged(b); err != nil || got.Files[0].Path != "a/b" {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []*Staged{{Dir: ".maim-stage-x"}, {Dir: name, Files: []StagedFile{{Path: "../x", Name: "1"}}}, {Dir: name, Files: []StagedFile{{Path: "x", Name: "../1"}}}} {
		b, _ := bad.Marshal()
		if _, err := UnmarshalStaged(b); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
