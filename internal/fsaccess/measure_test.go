package fsaccess

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
