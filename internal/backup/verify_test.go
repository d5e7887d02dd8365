package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/project"
)

// realBackup archives a small directory tree and a single file with internal/archive
// into a committed backup compressed with c.
func realBackup(t *testing.T, s Store, c archive.Compression) Entry {
	t.Helper()
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"a.txt":          "alpha\n",
		"sub/b.bin":      strings.Repeat("\x00\x01binary", 4096),
		"sub/deep/c.txt": strings.Repeat("content ", 10000),
	})
	single := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(single, []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := s.Begin("demo", t0)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{CreatedAt: t0, Reason: "manual", Compression: string(c)}
	for i, root := range []string{src, single} {
		kind := project.KindBindDir
		if root == single {
			kind = project.KindProjectFile
		}
		ps := project.Source{Name: filepath.Base(root), Kind: kind, HostPath: root}
		name := project.ArchiveBase(i, ps) + c.Ext()
		a, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		cw, err := archive.Compress(a, c, 0)
		if err != nil {
			t.Fatal(err)
		}
		st, err := archive.WriteTar(context.Background(), cw, root, archive.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		sum, size, err := a.Commit()
		if err != nil {
			t.Fatal(err)
		}
		m.Sources = append(m.Sources, Source{Source: ps, Archive: name, SHA256: sum, ArchiveSize: size, Entries: st.Entries, Files: st.Files, Bytes: st.Bytes, Plain: a.Plain()})
	}
	if err := w.Commit(m); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get("demo", w.ID)
	if err != nil || e.Status != StatusComplete {
		t.Fatalf("fresh backup: %+v, %v", e, err)
	}
	return e
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func asVerifyError(t *testing.T, err error) *VerifyError {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want a *VerifyError", err, err)
	}
	return ve
}

var compressions = []archive.Compression{archive.Zstd, archive.Gzip, archive.None}

func TestVerifyIntact(t *testing.T) {
	for _, c := range compressions {
		t.Run(string(c), func(t *testing.T) {
			s := newStore(t)
			e := realBackup(t, s, c)
			read := map[string]int64{}
			if err := s.Verify(e, func(src Source, n int64) { read[src.Archive] += n }); err != nil {
				t.Fatalf("Verify of an intact backup: %v", err)
			}
			for _, src := range e.Manifest.Sources {
				if read[src.Archive] != src.ArchiveSize {
					t.Errorf("progress for %s = %d bytes, want the archive size %d", src.Archive, read[src.Archive], src.ArchiveSize)
				}
				if src.Files == 0 || src.Entries == 0 {
					t.Errorf("test setup: %s has no counts", src.Archive)
				}
			}
			// no progress func is fine too
			if err := s.Verify(e, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyFlippedByte(t *testing.T) {
	for _, c := range compressions {
		t.Run(string(c), func(t *testing.T) {
			s := newStore(t)
			e := realBackup(t, s, c)
			src := e.Manifest.Sources[0]
			flipByte(t, filepath.Join(e.Dir, src.Archive))
			e, _ = s.Get("demo", e.ID) // same size: still "complete" on listing
			if e.Status != StatusComplete {
				t.Fatalf("status %s", e.Status)
			}
			ve := asVerifyError(t, s.Verify(e, nil))
			if ve.File != src.Archive || ve.Backup != e.ID || !strings.Contains(ve.Error(), src.Archive) {
				t.Fatalf("VerifyError %+v does not name %s", ve, src.Archive)
			}
		})
	}
}

func TestVerifyTruncated(t *testing.T) {
	for _, c := range compressions {
		t.Run(string(c), func(t *testing.T) {
			s := newStore(t)
			e := realBackup(t, s, c)
			src := e.Manifest.Sources[0]
			path := filepath.Join(e.Dir, src.Archive)
			if err := os.Truncate(path, src.ArchiveSize/2); err != nil {
				t.Fatal(err)
			}
			// the listing already sees the wrong size
			e, _ = s.Get("demo", e.ID)
			if e.Status != StatusCorrupt {
				t.Fatalf("status %s, want corrupt", e.Status)
			}
			if err := s.Verify(e, nil); err == nil || !strings.Contains(err.Error(), src.Archive) {
				t.Fatalf("Verify = %v, want a failure naming %s", err, src.Archive)
			}

			// and if the manifest agreed with the truncated size, reading finds it
			e.Status, e.Problem = StatusComplete, ""
			e.Manifest.Sources[0].ArchiveSize = src.ArchiveSize / 2
			ve := asVerifyError(t, s.Verify(e, nil))
			if ve.File != src.Archive {
				t.Fatalf("VerifyError %+v does not name %s", ve, src.Archive)
			}
		})
	}
}

func TestVerifyWrongCountsInManifest(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Source)
	}{
		{"entries", func(s *Source) { s.Entries++ }},
		{"files", func(s *Source) { s.Files-- }},
		{"bytes", func(s *Source) { s.Bytes += 1 }},
		{"sha256", func(s *Source) { s.SHA256 = strings.Repeat("0", 64) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			e := realBackup(t, s, archive.Zstd)
			tc.edit(&e.Manifest.Sources[1])
			ve := asVerifyError(t, s.Verify(e, nil))
			if ve.File != e.Manifest.Sources[1].Archive {
				t.Fatalf("VerifyError %+v names the wrong file", ve)
			}
		})
	}
}

func TestVerifyMissingArchiveAndIncomplete(t *testing.T) {
	s := newStore(t)
	e := realBackup(t, s, archive.Gzip)
	src := e.Manifest.Sources[1]
	if err := os.Remove(filepath.Join(e.Dir, src.Archive)); err != nil {
		t.Fatal(err)
	}
	// forced past the listing check, opening fails and names the file
	ve := asVerifyError(t, s.Verify(e, nil))
	if ve.File != src.Archive {
		t.Fatalf("%+v", ve)
	}
	e, _ = s.Get("demo", e.ID)
	if err := s.Verify(e, nil); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Verify of a corrupt entry = %v", err)
	}

	w, _ := s.Begin("demo", t0)
	inc, _ := s.Get("demo", w.ID)
	if err := s.Verify(inc, nil); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("Verify of an incomplete backup = %v", err)
	}
}

func TestVerifySources(t *testing.T) {
	for _, c := range compressions {
		t.Run(string(c), func(t *testing.T) {
			s := newStore(t)
			e := realBackup(t, s, c)
			dir, file := e.Manifest.Sources[0], e.Manifest.Sources[1]
			if err := s.VerifySources(e, []string{dir.Name, file.Name}, nil); err != nil {
				t.Fatalf("intact: %v", err)
			}
			read := map[string]int64{}
			if err := s.VerifySources(e, []string{file.Name}, func(src Source, n int64) { read[src.Archive] += n }); err != nil {
				t.Fatal(err)
			}
			if read[file.Archive] != file.ArchiveSize || read[dir.Archive] != 0 {
				t.Errorf("read %v: want only %s, whole (%d bytes)", read, file.Archive, file.ArchiveSize)
			}
			if ve := asVerifyError(t, s.VerifySources(e, []string{"nope"}, nil)); !strings.Contains(ve.Error(), "nope") {
				t.Errorf("an unknown source: %v", ve)
			}

			// a flipped byte in the directory's archive: only a check that reads it fails
			flipByte(t, filepath.Join(e.Dir, dir.Archive))
			e, _ = s.Get("demo", e.ID)
			if err := s.VerifySources(e, []string{file.Name}, nil); err != nil {
				t.Errorf("the other source's archive is intact: %v", err)
			}
			if ve := asVerifyError(t, s.VerifySources(e, []string{file.Name, dir.Name}, nil)); ve.File != dir.Archive {
				t.Errorf("VerifyError %+v does not name %s", ve, dir.Archive)
			}

			// counts that disagree with the manifest fail too
			e2 := realBackup(t, newStore(t), c)
			e2.Manifest.Sources[0].Files++
			if ve := asVerifyError(t, s.VerifySources(e2, []string{e2.Manifest.Sources[0].Name}, nil)); ve.File != e2.Manifest.Sources[0].Archive {
				t.Errorf("wrong file count: %+v", ve)
			}

			// an incomplete entry fails whatever is asked
			e.Status, e.Problem = StatusIncomplete, "no manifest"
			if err := s.VerifySources(e, nil, nil); err == nil {
				t.Error("an incomplete backup passed")
			}
		})
	}
}

// CheckHashes, the check a restore makes before it touches anything, catches every change
// to an archive's bytes (flipped, truncated, missing) and reads only the sources asked
// for; counts are left to the extraction, which compares its own with the manifest.
func TestCheckHashes(t *testing.T) {
	for _, c := range compressions {
		t.Run(string(c), func(t *testing.T) {
			s := newStore(t)
			e := realBackup(t, s, c)
			dir, file := e.Manifest.Sources[0], e.Manifest.Sources[1]
			if err := s.CheckHashes(e, nil); err != nil {
				t.Fatalf("intact: %v", err)
			}
			counts := e
			counts.Manifest = cloneManifest(e.Manifest)
			counts.Manifest.Sources[0].Entries++
			if err := s.CheckHashes(counts, nil); err != nil {
				t.Fatalf("counts are the extraction's to check, got %v", err)
			}

			path := filepath.Join(e.Dir, dir.Archive)
			flipByte(t, path)
			if ve := asVerifyError(t, s.CheckHashes(e, nil)); ve.File != dir.Archive || !strings.Contains(ve.Reason, "sha256") {
				t.Fatalf("flipped byte: %+v", ve)
			}
			// only the sources asked for are read
			if err := s.CheckHashes(e, []string{file.Name}); err != nil {
				t.Fatalf("the intact source alone: %v", err)
			}
			if ve := asVerifyError(t, s.CheckHashes(e, []string{"nope"})); !strings.Contains(ve.Error(), "nope") {
				t.Fatalf("unknown source: %+v", ve)
			}

			if err := os.Truncate(path, dir.ArchiveSize-1); err != nil {
				t.Fatal(err)
			}
			if ve := asVerifyError(t, s.CheckHashes(e, nil)); ve.File != dir.Archive || !strings.Contains(ve.Reason, "bytes") {
				t.Fatalf("truncated: %+v", ve)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if ve := asVerifyError(t, s.CheckHashes(e, nil)); ve.File != dir.Archive {
				t.Fatalf("missing: %+v", ve)
			}
			inc := e
			inc.Status = StatusIncomplete
			if err := s.CheckHashes(inc, nil); err == nil || !strings.Contains(err.Error(), "incomplete") {
				t.Fatalf("incomplete backup: %v", err)
			}
		})
	}
}

func cloneManifest(m *Manifest) *Manifest {
	c := *m
	c.Sources = append([]Source(nil), m.Sources...)
	return &c
}

// flipByte changes one bit in the middle of the file at path, keeping its size.
func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
