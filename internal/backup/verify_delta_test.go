package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/project"
)

// twoPassBackup commits a backup of one directory source in two passes: a base written
// with an index, then one file removed and one added, and the delta since (deleting one
// path). Uncompressed, so that tests can forge its archives.
func twoPassBackup(t *testing.T, s Store) Entry {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"keep.txt": "keep\n", "gone.txt": "gone\n", "sub/x.txt": "x\n"})
	w, err := s.Begin("demo", t0)
	if err != nil {
		t.Fatal(err)
	}
	ps := project.Source{Name: "data", Kind: project.KindBindDir, HostPath: dir}
	write := func(name string, opts archive.WriteOptions) (string, int64, archive.Stats) {
		a, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		st, err := archive.WriteTar(context.Background(), a, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		sum, size, err := a.Commit()
		if err != nil {
			t.Fatal(err)
		}
		return sum, size, st
	}
	idx := archive.NewIndex()
	bsum, bsize, bst := write("0-data.tar", archive.WriteOptions{Record: idx})
	must(t, os.Remove(filepath.Join(dir, "gone.txt")))
	writeTree(t, dir, map[string]string{"new.txt": "new\n"})
	dsum, dsize, dst := write("0-data.delta.tar", archive.WriteOptions{Since: idx})
	if !dst.Delta || dst.Deleted != 1 {
		t.Fatalf("test setup: delta stats %+v", dst)
	}
	m := &Manifest{CreatedAt: t0, Reason: "manual", Compression: string(archive.None), Sources: []Source{{
		Source: ps, Archive: "0-data.tar", SHA256: bsum, ArchiveSize: bsize, Entries: bst.Entries, Files: bst.Files, Bytes: bst.Bytes,
		Delta: &Delta{Archive: "0-data.delta.tar", SHA256: dsum, ArchiveSize: dsize, Entries: dst.Entries, Files: dst.Files, Bytes: dst.Bytes, Deleted: dst.Deleted},
	}}}
	must(t, w.Commit(m))
	e, err := s.Get("demo", w.ID)
	if err != nil || e.Status != StatusComplete {
		t.Fatalf("fresh backup: %+v, %v", e, err)
	}
	return e
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// forgeArchive replaces the archive file of e named name with a tar of the given global
// headers (PAX records) and one directory entry, and makes the manifest agree with the new
// file's hash, size and counts: only what the deletion list says is left to catch.
func forgeArchive(t *testing.T, e Entry, name string, globals ...map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := func(h *tar.Header) { must(t, tw.WriteHeader(h)) }
	for i, g := range globals {
		if i == 1 {
			hdr(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, ModTime: t0, Format: tar.FormatPAX})
		}
		hdr(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", Format: tar.FormatPAX, PAXRecords: g})
	}
	if len(globals) < 2 {
		hdr(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, ModTime: t0, Format: tar.FormatPAX})
	}
	must(t, tw.Close())
	must(t, os.WriteFile(filepath.Join(e.Dir, name), buf.Bytes(), 0o600))
	st, err := archive.Scan(bytes.NewReader(buf.Bytes()))
	sum, size := sha256Hex(buf.Bytes()), int64(buf.Len())
	src := &e.Manifest.Sources[0]
	if name == src.Archive {
		src.SHA256, src.ArchiveSize, src.Entries, src.Files, src.Bytes = sum, size, st.Entries, st.Files, st.Bytes
	} else {
		d := src.Delta
		d.SHA256, d.ArchiveSize, d.Entries, d.Files, d.Bytes = sum, size, st.Entries, st.Files, st.Bytes
		if err == nil {
			d.Deleted = st.Deleted
		}
	}
}

// TestVerifyDeletionList: verify reads a delta's deletion list (the MAIM.deleted PAX global
// headers): a hostile name in it (escaping, absolute, empty) or a count other than the
// manifest's deleted fails, as does a base archive that carries one. Before, verify
// compared entries, files and bytes only: a list that deletes more than the manifest says
// passed.
func TestVerifyDeletionList(t *testing.T) {
	s := newStore(t)
	if err := s.Verify(twoPassBackup(t, s), nil); err != nil {
		t.Fatalf("intact two-pass backup: %v", err)
	}
	delta := map[string]string{"MAIM.delta": "1"}
	for _, tc := range []struct {
		name string
		edit func(e Entry)
		want string
	}{
		{"miscounted", func(e Entry) { e.Manifest.Sources[0].Delta.Deleted++ }, "delet"},
		{"uncounted", func(e Entry) { e.Manifest.Sources[0].Delta.Deleted = 0 }, "delet"},
		{"forged longer list", func(e Entry) {
			forgeArchive(t, e, "0-data.delta.tar", delta, map[string]string{"MAIM.deleted": "keep.txt\x00sub"})
			e.Manifest.Sources[0].Delta.Deleted = 1
		}, "delet"},
		{"escaping", func(e Entry) {
			forgeArchive(t, e, "0-data.delta.tar", delta, map[string]string{"MAIM.deleted": "sub/../../etc"})
		}, "deletion list"},
		{"absolute", func(e Entry) {
			forgeArchive(t, e, "0-data.delta.tar", delta, map[string]string{"MAIM.deleted": "/etc/passwd"})
		}, "deletion list"},
		{"empty name", func(e Entry) {
			forgeArchive(t, e, "0-data.delta.tar", delta, map[string]string{"MAIM.deleted": "keep.txt\x00"})
		}, "deletion list"},
		{"base with a deletion list", func(e Entry) {
			forgeArchive(t, e, "0-data.tar", map[string]string{"MAIM.deleted": "keep.txt"})
		}, "delet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := twoPassBackup(t, s)
			e.Manifest = cloneManifest(e.Manifest)
			d := *e.Manifest.Sources[0].Delta
			e.Manifest.Sources[0].Delta = &d
			tc.edit(e)
			err := s.Verify(e, nil)
			ve := asVerifyError(t, err)
			if !strings.Contains(ve.Reason, tc.want) || !strings.HasPrefix(ve.File, "0-data.") {
				t.Fatalf("Verify = %v: want a failure of an archive of data about %q", err, tc.want)
			}
		})
	}
}
