package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// Measure counts exactly the bytes WriteTar reports, excludes and hard links included.
func TestMeasureMatchesWriteTar(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, n int) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.bin", 1000)
	write("sub/b.bin", 2000)
	write("cache/c.bin", 4000)
	write("logs/keep/d.log", 8000)
	write("sub/skip.tmp", 16000)
	if err := os.Link(filepath.Join(dir, "a.bin"), filepath.Join(dir, "sub/a-link.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.bin", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "sub"), filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	for _, ex := range [][]string{nil, {"cache", "**/*.tmp", "logs/**"}, {"sub", "!sub/b.bin", "logs/**"}} {
		want, err := WriteTar(context.Background(), &bytes.Buffer{}, dir, WriteOptions{Excludes: ex})
		if err != nil {
			t.Fatal(err)
		}
		got, err := fsaccess.Measure(context.Background(), dir, ex)
		if err != nil {
			t.Fatal(err)
		}
		if got != want.Bytes || got == 0 {
			t.Errorf("excludes %v: Measure = %d, WriteTar counted %d", ex, got, want.Bytes)
		}
	}
}
