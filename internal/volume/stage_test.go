package volume

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/helper"
)

// TestTransientExcludes: a transient name leaves out exactly that dir at the root (not a
// dir of the same name deeper, not a user's dir of a similar name), is not one of the
// caller's Excludes afterwards, and a name that is a pattern is refused. A stage dir no one
// named (a killed restore's) is left out at the root too, and only in its exact form.
func TestTransientExcludes(t *testing.T) {
	opts := BackupOptions{Excludes: []string{"*.tmp"}, Transient: []string{".dir-of-ours"}}
	ex, err := transientExcludes(opts)
	if err != nil || !slices.Equal(opts.Excludes, []string{"*.tmp"}) || len(ex) != 3 {
		t.Fatalf("%v %v (caller's %v)", ex, err, opts.Excludes)
	}
	stale := ".maim-stage-0123456789abcdef0123456789abcdef" // a killed restore's, never named in Transient
	root := t.TempDir()
	for _, d := range []string{opts.Transient[0] + "/f", "sub/" + opts.Transient[0] + "/f", ".maim-stage-foo/f", stale + "/f", "sub/" + stale + "/f", stale + "0/f"} {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, d)), 0o755))
		must(t, os.WriteFile(filepath.Join(root, d), []byte("x"), 0o644))
	}
	idx := archive.NewIndex()
	f, err := os.Create(filepath.Join(t.TempDir(), "a.tar.zst"))
	must(t, err)
	defer f.Close()
	if _, err := helper.BackupPass(context.Background(), root, f, archive.Zstd, 0, ex, func(int64) {}, helper.Pass{Final: idx}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{opts.Transient[0]: false, opts.Transient[0] + "/f": false, "sub/" + opts.Transient[0] + "/f": true, ".maim-stage-foo/f": true,
		stale: false, stale + "/f": false, "sub/" + stale + "/f": true, stale + "0/f": true} {
		if _, got := idx.Entries[p]; got != want {
			t.Errorf("%s in the backup: %v, want %v", p, got, want)
		}
	}
	for _, bad := range []string{"*", "a/b", "", "!x", "[a]"} {
		if _, err := transientExcludes(BackupOptions{Transient: []string{bad}}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
