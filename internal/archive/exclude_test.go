package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		must(t, os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
		must(t, os.WriteFile(filepath.Join(root, p), []byte(c), 0o644))
	}
}

func entryNames(t *testing.T, data []byte) string {
	t.Helper()
	var names []string
	rd := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := rd.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, " ")
}

// TestExcludesDockerignore: WriteTar applies .dockerignore semantics: "*.log" at the root
// only, "**/node_modules" at any depth, "!keep.log" after "*.log" re-includes it, and an
// excluded directory with a nested exception is entered (not archived itself) for what is
// re-included; Measure counts the same bytes.
func TestExcludesDockerignore(t *testing.T) {
	src := tempDir(t)
	writeFiles(t, src, map[string]string{
		"app.log": "1", "keep.log": "22", "sub/app.log": "333", "web/node_modules/x/m.js": "4444",
		"node_modules/n.js": "55555", "web/app.js": "666666", "logs/x": "7", "logs/keep/y": "88",
		"logs/keep/tmp/z": "999", "logs/other/keep": "1",
	})
	excludes := []string{"*.log", "!keep.log", "**/node_modules", "logs", "!logs/keep", "logs/keep/tmp"}
	data, st := pack(t, src, None, WriteOptions{Excludes: excludes})
	want := "./ ./keep.log ./logs/keep/ ./logs/keep/y ./sub/ ./sub/app.log ./web/ ./web/app.js"
	if got := entryNames(t, data); got != want {
		t.Errorf("entries\n got %s\nwant %s", got, want)
	}
	n, err := fsaccess.Measure(context.Background(), src, excludes)
	must(t, err)
	if n != st.Bytes || n != int64(len("22333666666"+"88")) {
		t.Errorf("Measure = %d, WriteTar counted %d", n, st.Bytes)
	}
	if _, err := WriteTar(context.Background(), &bytes.Buffer{}, src, WriteOptions{Excludes: []string{"../x"}}); err == nil {
		t.Error("WriteTar accepted a pattern leading outside the root")
	}
	if _, err := Extract(context.Background(), bytes.NewReader(data), tempDir(t), ExtractOptions{Excludes: []string{"["}}); err == nil {
		t.Error("Extract accepted a bad pattern")
	}
}

// TestExtractKeepsExcludedWithExceptions: a restore leaves every excluded path alone, also
// inside an excluded directory an exception re-enters, and syncs the re-included paths
// exactly (written, and removed when not in the archive).
func TestExtractKeepsExcludedWithExceptions(t *testing.T) {
	src, dest := tempDir(t), tempDir(t)
	excludes := []string{"*.log", "!keep.log", "logs", "!logs/keep"}
	writeFiles(t, src, map[string]string{"keep.log": "v1", "a.log": "in backup", "logs/x": "in backup", "logs/keep/y": "v1", "f": "v1"})
	data, _ := pack(t, src, None, WriteOptions{Excludes: excludes})
	writeFiles(t, dest, map[string]string{
		"keep.log": "changed", "a.log": "live", "logs/x": "live", "logs/stray": "live excluded",
		"logs/keep/y": "changed", "logs/keep/stale": "not in the backup", "stray": "not in the backup",
	})
	if _, err := unpack(t, data, None, dest, ExtractOptions{Excludes: excludes}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"keep.log": "v1", "a.log": "live", "logs/x": "live", "logs/stray": "live excluded", "logs/keep/y": "v1", "f": "v1",
	} {
		if b, err := os.ReadFile(filepath.Join(dest, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q", p, b, err, want)
		}
	}
	for _, p := range []string{"logs/keep/stale", "stray"} {
		if _, err := os.Lstat(filepath.Join(dest, p)); !os.IsNotExist(err) {
			t.Errorf("%s survived the exact sync: %v", p, err)
		}
	}
	// Onto an empty dest the missing excluded parent is created for what is re-included.
	empty := tempDir(t)
	if _, err := unpack(t, data, None, empty, ExtractOptions{Excludes: excludes}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(empty, "logs/keep/y")); string(b) != "v1" {
		t.Errorf("logs/keep/y = %q onto an empty dest", b)
	}
	if _, err := os.Lstat(filepath.Join(empty, "logs/x")); !os.IsNotExist(err) {
		t.Errorf("excluded logs/x was written: %v", err)
	}
	// An excluded non-directory where a re-included path needs its parent is not replaced.
	clash := tempDir(t)
	writeFiles(t, clash, map[string]string{"logs": "an excluded file"})
	if _, err := unpack(t, data, None, clash, ExtractOptions{Excludes: excludes}); err == nil {
		t.Error("extract replaced the excluded file logs by a directory")
	}
	if b, _ := os.ReadFile(filepath.Join(clash, "logs")); string(b) != "an excluded file" {
		t.Errorf("excluded logs = %q", b)
	}
}

// TestDeltaWithExceptionsIsOnePass: pass one that must enter an excluded directory marks
// the tree one-pass (a delta could not name deletions below a directory it does not hold),
// and pass two then archives the tree whole, which restores exactly.
func TestDeltaWithExceptionsIsOnePass(t *testing.T) {
	src := tempDir(t)
	excludes := []string{"logs", "!logs/keep"}
	writeFiles(t, src, map[string]string{"logs/x": "1", "logs/keep/y": "2", "f": "3"})
	idx := NewIndex()
	_, err := WriteTar(context.Background(), io_discard{}, src, WriteOptions{Excludes: excludes, Record: idx})
	must(t, err)
	if !strings.Contains(idx.OnePass, "logs is excluded") {
		t.Fatalf("Index.OnePass = %q", idx.OnePass)
	}
	must(t, os.Remove(filepath.Join(src, "logs/keep/y")))
	var two bytes.Buffer
	st, err := WriteTar(context.Background(), &two, src, WriteOptions{Excludes: excludes, Since: idx})
	must(t, err)
	if st.Delta || st.OnePass == "" {
		t.Fatalf("pass two: %+v", st)
	}
	if got, want := entryNames(t, two.Bytes()), "./ ./f ./logs/keep/"; got != want {
		t.Errorf("pass two entries %q, want %q", got, want)
	}
	// Without exceptions below an excluded directory the two passes stay a delta.
	idx2 := NewIndex()
	_, err = WriteTar(context.Background(), io_discard{}, src, WriteOptions{Excludes: []string{"logs", "!f"}, Record: idx2})
	must(t, err)
	if idx2.OnePass != "" {
		t.Errorf("an exception outside excluded directories made the tree one-pass: %q", idx2.OnePass)
	}
}
