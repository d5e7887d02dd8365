//go:build linux || darwin

package fsaccess_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// countingWriter counts what WriteTar writes.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// MeasureSince counts exactly the content bytes WriteTar with Since writes of a real tree
// over a real final index (changed, added and hard-linked files; nothing for an unchanged
// tree), and its Estimate bounds everything that delta archive writes.
func TestMeasureSinceMatchesTheDelta(t *testing.T) {
	dir := t.TempDir()
	p := func(rel string) string { return filepath.Join(dir, rel) }
	write := func(rel string, n int) {
		must(t, os.MkdirAll(filepath.Dir(p(rel)), 0o755))
		must(t, os.WriteFile(p(rel), bytes.Repeat([]byte("x"), n), 0o644))
	}
	write("a.bin", 1000)
	write("sub/b.bin", 2000)
	write("sub/deep/c.bin", 4000)
	write("skip/e.bin", 100000)
	write("pair1", 300)
	must(t, os.Link(p("pair1"), p("sub/pair2")))
	must(t, os.Symlink("a.bin", p("sub/link")))
	ex := []string{"skip"}
	// Wait out the index's margin: untouched files must be older than its threshold.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(3*time.Second + 50*time.Millisecond)))
	base := archive.NewIndex()
	if _, err := archive.WriteTar(context.Background(), &countingWriter{}, dir, archive.WriteOptions{Excludes: ex, Final: base}); err != nil {
		t.Fatal(err)
	}
	measure := func() fsaccess.Increment {
		t.Helper()
		inc, err := fsaccess.MeasureSince(context.Background(), dir, ex, base)
		if err != nil {
			t.Fatal(err)
		}
		return inc
	}
	delta := func() (archive.Stats, int64) {
		t.Helper()
		cw := &countingWriter{}
		st, err := archive.WriteTar(context.Background(), cw, dir, archive.WriteOptions{Excludes: ex, Since: base})
		if err != nil || !st.Delta {
			t.Fatalf("WriteTar = %+v, %v; want a delta", st, err)
		}
		return st, cw.n
	}

	// Unchanged but for the hard-linked pair (always rewritten whole, once).
	inc := measure()
	st, written := delta()
	if !inc.Delta || inc.Bytes != 300 || inc.Bytes != st.Bytes || inc.Full != 7300 {
		t.Fatalf("unchanged tree: %+v, delta wrote %d content bytes; want 300 of 7300", inc, st.Bytes)
	}
	if inc.Estimate() < written {
		t.Fatalf("unchanged tree: estimate %d < %d bytes written", inc.Estimate(), written)
	}

	write("sub/b.bin", 2500)       // rewritten
	write("sub/new.bin", 700)      // added
	write("skip/e.bin", 200000)    // excluded
	must(t, os.Remove(p("a.bin"))) // deleted
	inc = measure()
	st, written = delta()
	if want := int64(2500 + 700 + 300); inc.Bytes != want || st.Bytes != want {
		t.Fatalf("changed tree: measured %+v, delta wrote %d content bytes; want %d", inc, st.Bytes, want)
	}
	if inc.Estimate() < written {
		t.Fatalf("changed tree: estimate %d < %d bytes written", inc.Estimate(), written)
	}
}

// Without a usable index MeasureSince counts the tree whole and says why.
func TestMeasureSinceWhole(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f"), make([]byte, 5000), 0o644))
	other := archive.NewIndex()
	if _, err := archive.WriteTar(context.Background(), &countingWriter{}, t.TempDir(), archive.WriteOptions{Final: other}); err != nil {
		t.Fatal(err)
	}
	for name, idx := range map[string]*archive.Index{"no index": nil, "another tree": other, "one-pass": {OnePass: "tmpfs", Entries: other.Entries}} {
		inc, err := fsaccess.MeasureSince(context.Background(), dir, nil, idx)
		if err != nil || inc.Delta || inc.Why == "" || inc.Bytes != 5000 || inc.Full != 5000 {
			t.Errorf("%s: %+v, %v; want the whole 5000 bytes and why", name, inc, err)
		}
	}
}
