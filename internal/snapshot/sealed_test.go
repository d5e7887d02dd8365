package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/crypt"
	"github.com/docker-maim/docker-maim/internal/project"
)

// TestAddDumpSealed: a database dump written by a sealing store is sealed on disk, records
// its plaintext's hash, opens with the identity to the dump's bytes, and its check (what
// restore --from-dump and rollback run first) refuses without one as api.ErrNoIdentity.
func TestAddDumpSealed(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rcpts, err := crypt.ParseRecipients([]string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	st := backup.Local(t.TempDir())
	st.Seal = rcpts
	s := &Service{Store: st}
	pl := &BackupPlan{opts: BackupOptions{Compression: archive.Zstd}}
	sql := strings.Repeat("INSERT INTO t VALUES (1);\n", 5000)
	d, err := s.AddDump(context.Background(), &project.Project{Project: &types.Project{Name: "demo"}}, pl, backup.Dump{Service: "db", Engine: "postgresql"}, func(w io.Writer) error {
		_, err := io.WriteString(w, sql)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Plain == nil || d.Plain.SHA256 == d.SHA256 || d.Bytes != int64(len(sql)) {
		t.Fatalf("dump record %+v", d)
	}
	raw, err := os.ReadFile(filepath.Join(pl.w.Dir, d.Archive))
	if err != nil || !crypt.IsSealed(bytes.NewReader(raw)) || int64(len(raw)) != d.ArchiveSize {
		t.Fatalf("dump on disk: %d bytes, sealed %v, %v", len(raw), crypt.IsSealed(bytes.NewReader(raw)), err)
	}
	if err := pl.w.Commit(&backup.Manifest{Reason: "manual", Compression: "zstd", Dumps: []backup.Dump{d}}); err != nil {
		t.Fatal(err)
	}
	st.Seal = nil
	e, err := st.Get("demo", pl.w.ID)
	if err != nil || e.Status != backup.StatusComplete {
		t.Fatalf("%+v %v", e, err)
	}
	if err := CheckError(st.CheckHashes(e, nil)); !errors.Is(err, api.ErrNoIdentity) || errors.Is(err, api.ErrVerify) {
		t.Fatalf("check without identity: %v", err)
	}
	st.Identities = []age.Identity{id}
	e, _ = st.Get("demo", pl.w.ID)
	f, err := e.Open(e.Manifest.Dumps[0].Source())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := archive.Decompress(f, archive.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != sql {
		t.Fatalf("dump read back: %d bytes, %v", len(got), err)
	}
	if err := st.Verify(e, nil); err != nil {
		t.Fatal(err)
	}
}
