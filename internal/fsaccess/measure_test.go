package fsaccess

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// writeTree writes each file of files (relative path: size in bytes) below dir.
func writeTree(t *testing.T, dir string, files map[string]int) {
	t.Helper()
	for rel, n := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A regular-file root measures as its size; a missing root is an error, not a zero.
func TestMeasureSingleFileAndMissingRoot(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"sub/b.bin": 2000})
	if n, err := Measure(context.Background(), filepath.Join(dir, "sub/b.bin"), nil); err != nil || n != 2000 {
		t.Errorf("single file: %d, %v", n, err)
	}
	if _, err := Measure(context.Background(), filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("a missing root measured")
	}
}

// Measure sums regular files only, skips what the excludes name (a directory with all it
// holds), and does not follow symlinks below the root.
func TestMeasureTree(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{
		"a.bin": 1, "sub/b.bin": 10, "cache/c.bin": 100, "logs/keep/d.log": 1000, "sub/skip.tmp": 10000,
	})
	if err := os.Symlink(filepath.Join(dir, "sub"), filepath.Join(dir, "dirlink")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	if err := os.Symlink("a.bin", filepath.Join(dir, "filelink")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		excludes []string
		want     int64
	}{
		{nil, 11111},
		{[]string{"cache"}, 11011},
		{[]string{"*.tmp", "logs/**"}, 10111}, // changed: "*.tmp" is the root's only (.dockerignore)
		{[]string{"**/*.tmp", "logs/**"}, 111},
		{[]string{"sub"}, 1101},
		{[]string{"sub", "!sub/b.bin"}, 1111}, // an exception below an excluded directory
		{[]string{"*", "!logs"}, 1000},
		{[]string{"**", "!**/*.log"}, 1000},
	} {
		got, err := Measure(context.Background(), dir, tc.excludes)
		if err != nil || got != tc.want {
			t.Errorf("excludes %q: %d, %v; want %d", tc.excludes, got, err, tc.want)
		}
	}
	if _, err := Measure(context.Background(), dir, []string{"[x"}); err == nil {
		t.Error("a bad pattern measured")
	}
	// a symlinked root is followed, as WriteTar follows it
	if got, err := Measure(context.Background(), filepath.Join(dir, "dirlink"), nil); err != nil || got != 10010 {
		t.Errorf("a symlinked root: %d, %v; want 10010", got, err)
	}
}

// A file with several hard links counts once (on the systems whose archives keep hard links).
func TestMeasureHardLinksOnce(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("hard links are told apart on Linux and macOS only")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"a": 100, "b": 1})
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "a2")); err != nil {
		t.Fatal(err)
	}
	if got, err := Measure(context.Background(), dir, nil); err != nil || got != 101 {
		t.Errorf("%d, %v; want 101", got, err)
	}
}

// A cancelled walk returns the context's error, and a root that is neither a file nor a
// directory is refused.
func TestMeasureCancelAndNotATree(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"a": 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Measure(ctx, dir, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if _, err := Measure(context.Background(), os.DevNull, nil); err == nil || !strings.Contains(err.Error(), "neither a directory nor a regular file") {
		t.Errorf("%s: %v, want a refusal", os.DevNull, err)
	}
}
