package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/project"
)

func TestResolveDir(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(base, "data", "x"), 0o755))
	must(os.Symlink("./data/x", filepath.Join(base, "bk")))           // to an existing dir
	must(os.Symlink("data/missing", filepath.Join(base, "dangling"))) // to one not made yet
	t.Chdir(base)
	for _, tc := range []struct{ in, want string }{
		{"data/backups", filepath.Join(base, "data", "backups")},
		{"./data/../data/backups/p", filepath.Join(base, "data", "backups", "p")},
		{"bk", filepath.Join(base, "data", "x")},
		{"bk/more/deep", filepath.Join(base, "data", "x", "more", "deep")},
		{filepath.Join(base, "bk"), filepath.Join(base, "data", "x")},
		{"dangling/b", filepath.Join(base, "data", "missing", "b")},
		{"/nonexistent-root-dir/a/b", "/nonexistent-root-dir/a/b"},
	} {
		got, err := ResolveDir(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ResolveDir(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// a symlink loop ends
	must(os.Symlink("loop2", filepath.Join(base, "loop1")))
	must(os.Symlink("loop1", filepath.Join(base, "loop2")))
	if _, err := ResolveDir("loop1/x"); err != nil {
		t.Errorf("a symlink loop: %v", err)
	}
}

func TestCheckRoot(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	proj := filepath.Join(base, "project")
	if err := os.MkdirAll(filepath.Join(proj, "data", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("./data/x", filepath.Join(proj, "bk")); err != nil {
		t.Fatal(err)
	}
	srcs := []project.Source{
		{Name: "db", Kind: project.KindVolume, VolumeName: "p_db"},
		{Name: "./data", Kind: project.KindBindDir, HostPath: filepath.Join(proj, "data")},
		{Name: "file:compose.yaml", Kind: project.KindProjectFile, HostPath: filepath.Join(proj, "compose.yaml")},
	}
	t.Chdir(proj)
	for _, tc := range []struct {
		root string
		bad  string // "" = accepted; else the source the error names
	}{
		{filepath.Join(base, "backups"), ""},
		{filepath.Join(proj, "backups"), ""}, // in the project dir, but in no source
		{"backups", ""},
		{"data/backups", "./data"},
		{"./data", "./data"},
		{filepath.Join(proj, "bk"), "./data"},
		{"bk/deeper", "./data"},
		{base, "./data"}, // holds the sources
		{proj, "./data"}, // holds them too
		{filepath.Join(proj, "compose.yaml", "x"), "file:compose.yaml"},
	} {
		err := CheckRoot(tc.root, srcs)
		if tc.bad == "" {
			if err != nil {
				t.Errorf("CheckRoot(%q) = %v, want nil", tc.root, err)
			}
			continue
		}
		if !errors.Is(err, ErrRootOverlapsSource) || !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("CheckRoot(%q) = %v, want ErrRootOverlapsSource naming %s", tc.root, err, tc.bad)
		}
	}
	// a source reached through a symlink is resolved too
	link := filepath.Join(base, "datalink")
	if err := os.Symlink(filepath.Join(proj, "data"), link); err != nil {
		t.Fatal(err)
	}
	viaLink := []project.Source{{Name: "./datalink", Kind: project.KindBindDir, HostPath: link}}
	if err := CheckRoot(filepath.Join(proj, "data", "b"), viaLink); !errors.Is(err, ErrRootOverlapsSource) {
		t.Errorf("backup dir inside a source reached through a symlink: %v", err)
	}
}
