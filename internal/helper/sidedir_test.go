package helper

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func tree(t *testing.T, root string) string {
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b := ""
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b = string(c)
		}
		out = append(out, rel+" "+fi.Mode().String()+" "+b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestSwap: the top takes the side directory's entries (a nested layout, PG18's 18/docker,
// too) and, with --root-attrs, its mode; every old entry and the side directory are gone.
func TestSwap(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"PG_VERSION", "base/1/123", "data/PG_VERSION", ".maim-migrate-x/PG_VERSION", ".maim-migrate-x/base/5/9", ".maim-migrate-x/18/docker/PG_VERSION"} {
		mustDo(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755))
		mustDo(t, os.WriteFile(filepath.Join(dir, f), []byte("new "+f), 0o600))
	}
	mustDo(t, os.Chmod(filepath.Join(dir, ".maim-migrate-x"), 0o700))
	want := t.TempDir()
	mustDo(t, os.Chmod(want, 0o700))
	for _, f := range []string{"PG_VERSION", "base/5/9", "18/docker/PG_VERSION"} {
		mustDo(t, os.MkdirAll(filepath.Dir(filepath.Join(want, f)), 0o755))
		mustDo(t, os.WriteFile(filepath.Join(want, f), []byte("new .maim-migrate-x/"+f), 0o600))
	}
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"swap", "--from", ".maim-migrate-x", "--root-attrs", dir}, nil, nil, &stderr); code != 0 {
		t.Fatalf("swap exited %d: %s", code, stderr.String())
	}
	if got, w := tree(t, dir), tree(t, want); got != w {
		t.Errorf("after the swap:\n%s\nwant:\n%s", got, w)
	}
	if code := Run(context.Background(), []string{"swap", "--from", "../x", dir}, nil, nil, &stderr); code != 2 {
		t.Errorf("swap --from ../x exited %d, want 2", code)
	}
	mustDo(t, os.MkdirAll(filepath.Join(dir, ".maim-migrate-y", "z"), 0o700))
	if code := Run(context.Background(), []string{"drop", "--from", ".maim-migrate-y", dir}, nil, nil, &stderr); code != 0 {
		t.Fatalf("drop exited %d: %s", code, stderr.String())
	}
	if got, w := tree(t, dir), tree(t, want); got != w {
		t.Errorf("after the drop:\n%s\nwant:\n%s", got, w)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
