package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/project"
)

// dumpBackup is a committed backup holding one logical dump (SQL text, compressed with c)
// and no source.
func dumpBackup(t *testing.T, s Store, c archive.Compression, sql string) Entry {
	t.Helper()
	w, err := s.Begin("demo", t0)
	if err != nil {
		t.Fatal(err)
	}
	name := "dump-db.sql" + strings.TrimPrefix(c.Ext(), ".tar")
	a, err := w.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := archive.Compress(a, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.Write([]byte(sql)); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	sum, size, err := a.Commit()
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{CreatedAt: t0, Reason: "manual", Compression: string(c),
		Dumps: []Dump{{Service: "db", Engine: "postgresql", Command: "pg_dumpall -U app", Archive: name, SHA256: sum, ArchiveSize: size, Bytes: int64(len(sql))}}}
	if err := w.Commit(m); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get("demo", w.ID)
	if err != nil || e.Status != StatusComplete {
		t.Fatalf("fresh backup: %+v, %v", e, err)
	}
	if e.Manifest.Size() != size {
		t.Errorf("Size() = %d, want the dump's %d", e.Manifest.Size(), size)
	}
	return e
}

// Verify re-hashes and decompresses every dump: intact passes, a flipped byte or a dump of
// another length than recorded fails naming the dump; a listing finds a missing dump.
func TestVerifyDumps(t *testing.T) {
	sql := strings.Repeat("INSERT INTO t VALUES (1);\n", 5000)
	for _, c := range compressions {
		t.Run(string(c), func(t *testing.T) {
			s := newStore(t)
			e := dumpBackup(t, s, c, sql)
			if err := s.Verify(e, nil); err != nil {
				t.Fatalf("intact: %v", err)
			}
			d := e.Manifest.Dumps[0]
			p := filepath.Join(s.Dir("demo", e.ID), d.Archive)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if ve := asVerifyError(t, s.Verify(e, nil)); ve.File != d.Archive {
				t.Errorf("flipped byte: %v, want the dump named", ve)
			}
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Get("demo", e.ID); got.Status != StatusCorrupt || !strings.Contains(got.Problem, d.Archive) {
				t.Errorf("missing dump: %s %q, want corrupt naming it", got.Status, got.Problem)
			}
		})
	}
	s := newStore(t)
	e := dumpBackup(t, s, archive.Zstd, sql)
	e.Manifest.Dumps[0].Bytes++
	if ve := asVerifyError(t, s.Verify(e, nil)); !strings.Contains(ve.Reason, "bytes of dump") {
		t.Errorf("wrong length: %v", ve)
	}
}

// A manifest whose dump names a file outside the backup, or an archive a source uses, is
// refused.
func TestManifestRefusesBadDumps(t *testing.T) {
	src := Source{Source: project.Source{Name: "v", Kind: project.KindVolume, VolumeName: "v"}, Archive: "00-v.tar.zst"}
	for name, d := range map[string]Dump{
		"outside":  {Service: "db", Archive: "../x.sql.zst"},
		"manifest": {Service: "db", Archive: ManifestName},
		"shared":   {Service: "db", Archive: "00-v.tar.zst"},
		"no name":  {Service: "db"},
	} {
		m := &Manifest{Sources: []Source{src}, Dumps: []Dump{d}}
		if err := m.validate(); err == nil {
			t.Errorf("%s: %+v accepted", name, d)
		}
	}
	m := &Manifest{Sources: []Source{src}, Dumps: []Dump{{Service: "db", Archive: "dump-db.sql.zst"}}}
	if err := m.validate(); err != nil {
		t.Errorf("a good dump: %v", err)
	}
}
