package backup

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
)

// TestChainOverASealedCopy: an increment copied to a remote sealed, with its base copied
// sealed too (what `--remote --encrypt-to` sends of an incremental backup), is a whole
// chain there: the increment's Base names the base's archive by the hash of the archive
// itself, which the sealed base keeps as Plain. A base whose archive differs is still
// refused.
func TestChainOverASealedCopy(t *testing.T) {
	_, rcpts, _ := ageKeys(t)
	plain := Local(t.TempDir())
	e := realBackup(t, plain, archive.Zstd)
	remote := Local(t.TempDir())
	root := remote.Repo.(LocalDir).Root
	src := e.Manifest.Sources[0]

	// The base, sealed, as the copy writes it.
	seal := func(id string, m *Manifest) {
		dir := filepath.Join(root, "demo", id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		sealed := map[string]Plain{}
		for _, s := range e.Manifest.Sources {
			f, err := e.OpenStored(s)
			if err != nil {
				t.Fatal(err)
			}
			out, err := os.Create(filepath.Join(dir, s.Archive))
			if err != nil {
				t.Fatal(err)
			}
			sp, _, err := SealStream(out, f, rcpts)
			f.Close()
			out.Close()
			if err != nil {
				t.Fatal(err)
			}
			sealed[s.Archive] = sp
		}
		c, err := m.SealedCopy(rcpts, sealed)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(c)
		if err := os.WriteFile(filepath.Join(dir, ManifestName), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	seal(e.ID, e.Manifest)
	// The increment: the same archives (what they hold does not matter to the chain), its
	// first source based on the base's archive by its plain hash.
	incID := "20300101T000000Z"
	inc := *e.Manifest
	inc.ID = incID
	inc.Sources = append([]Source{}, e.Manifest.Sources...)
	inc.Sources[0].Base = &Base{ID: e.ID, Archive: src.Archive, SHA256: src.SHA256, Depth: 1}
	seal(incID, &inc)

	ie, err := remote.Get("demo", incID)
	if err != nil || ie.Status != StatusComplete {
		t.Fatalf("the sealed increment: %+v, %v", ie, err)
	}
	is, _ := ie.Manifest.Source(src.Name)
	links, err := remote.Chain(ie, is)
	if err != nil || len(links) != 2 || links[0].Entry.ID != e.ID {
		t.Fatalf("the chain of the sealed increment over its sealed base: %v, %v", links, err)
	}

	inc.Sources[0].Base.SHA256 = "0000000000000000000000000000000000000000000000000000000000000000"
	seal(incID, &inc)
	ie, _ = remote.Get("demo", incID)
	is, _ = ie.Manifest.Source(src.Name)
	if _, err := remote.Chain(ie, is); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("a base whose archive is another: %v, want ErrBrokenChain", err)
	}
}
