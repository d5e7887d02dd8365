package backup

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// streamOnly is a Repository that keeps its files where no path reaches them, as a remote
// does: LocalDir's methods without FilePath.
type streamOnly struct{ Repository }

// TestEntryLocalPath: a plain backup in a LocalDir names each archive's file, the very
// bytes Open reads, absolute, under the backup that holds it (a Ref's holder); a sealed
// backup and a repository that is not a FileRepository name none; a missing file is not
// checked for.
func TestEntryLocalPath(t *testing.T) {
	tmp := t.TempDir()
	t.Chdir(tmp)
	s := Local("rel") // a relative root: the paths are absolute all the same
	root := filepath.Join(tmp, "rel")
	w := fakeBackup(t, s, "demo", t0, map[string]string{"data": "the data"})
	e, err := s.Get("demo", w.ID)
	if err != nil {
		t.Fatal(err)
	}
	src := e.Manifest.Sources[0]
	p, ok := e.LocalPath(src)
	if want := filepath.Join(root, "demo", w.ID, "data"); !ok || p != want {
		t.Fatalf("LocalPath = %q, %v; want %q, true", p, ok, want)
	}
	r, err := e.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	viaOpen, _ := io.ReadAll(r)
	r.Close()
	if viaPath, err := os.ReadFile(p); err != nil || string(viaPath) != string(viaOpen) || string(viaPath) != "the data" {
		t.Fatalf("the file at LocalPath holds %q (%v), Open reads %q", viaPath, err, viaOpen)
	}

	ref := src
	ref.Ref = "20260101T000000Z"
	if p, ok := e.LocalPath(ref); !ok || p != filepath.Join(root, "demo", ref.Ref, "data") {
		t.Errorf("a source held by %s: LocalPath = %q, %v", ref.Ref, p, ok)
	}
	missing := src
	missing.Archive = "gone"
	if p, ok := e.LocalPath(missing); !ok || p != filepath.Join(root, "demo", w.ID, "gone") {
		t.Errorf("a missing file: LocalPath = %q, %v; want its path (nothing is checked)", p, ok)
	}
	bad := src
	bad.Archive = "../escape"
	if p, ok := e.LocalPath(bad); ok {
		t.Errorf("a name leaving its place: LocalPath = %q, true", p)
	}

	remote := Store{Repo: streamOnly{LocalDir{Root: "rel"}}}
	re, err := remote.Get("demo", w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := re.LocalPath(src); ok {
		t.Errorf("a repository without paths: LocalPath = %q, true", p)
	}

	_, rcpts, _ := ageKeys(t)
	_, se := sealedBackup(t, rcpts)
	for _, a := range se.Manifest.Sources {
		if p, ok := se.LocalPath(a); ok {
			t.Errorf("a sealed backup's %s: LocalPath = %q, true (its file is ciphertext)", a.Name, p)
		}
	}
}
