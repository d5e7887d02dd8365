package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// newBackup writes a complete backup with two archives and a report into st.
func newBackup(t *testing.T, st backup.Store, proj string) (string, map[string][]byte) {
	t.Helper()
	w, err := st.Begin(proj, time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	m := &backup.Manifest{Reason: "manual", Compression: "zstd", WorkingDir: "/p"}
	content := map[string][]byte{}
	for i, name := range []string{"0-data.tar.zst", "1-conf.tar.zst"} {
		b := make([]byte, 300_000+i)
		rand.Read(b)
		a, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		a.Write(b)
		sum, size, err := a.Commit()
		if err != nil {
			t.Fatal(err)
		}
		content[name] = b
		m.Sources = append(m.Sources, backup.Source{Source: project.Source{Name: name, Kind: project.KindVolume, VolumeName: "v" + name[:1]}, Archive: name, SHA256: sum, ArchiveSize: size})
	}
	content["config-merge.txt"] = []byte("a report\n")
	if err := w.WriteFile("config-merge.txt", content["config-merge.txt"]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(m); err != nil {
		t.Fatal(err)
	}
	return w.ID, content
}

func TestCopyThenFetchIsByteForByte(t *testing.T) {
	ctx := context.Background()
	local, remote := backup.Local(t.TempDir()), backup.Local(t.TempDir())
	id, content := newBackup(t, local, "p")
	res, err := Copy(ctx, local, remote, "p", id, CopyOptions{Name: "nas"})
	if err != nil || !res.Copied || res.Skipped != 0 {
		t.Fatalf("copy: %+v %v", res, err)
	}
	re, err := remote.Get("p", id)
	if err != nil || re.Status != backup.StatusComplete || len(re.Manifest.Stored) != 3 {
		t.Fatalf("remote entry: %+v %v", re, err)
	}
	if _, _, n, err := VerifyRemote(ctx, remote, "p", id, nil); err != nil || n != 3 {
		t.Fatalf("verify remote: %d %v", n, err)
	}
	// The local store is lost; the fetch brings every file back.
	os.RemoveAll(local.LocalRoot())
	if _, err := Fetch(ctx, remote, local, "p", id, FetchOptions{Name: "nas"}); err != nil {
		t.Fatal(err)
	}
	le, err := local.Get("p", id)
	if err != nil || le.Status != backup.StatusComplete || le.Manifest.Stored != nil {
		t.Fatalf("fetched entry: %+v %v", le, err)
	}
	if err := local.CheckHashes(le, nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range content {
		got, err := os.ReadFile(filepath.Join(local.Dir("p", id), name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs after the fetch (%v)", name, err)
		}
	}
}

func TestCopyResumesAndRefusesADamagedArchive(t *testing.T) {
	ctx := context.Background()
	local, remote := backup.Local(t.TempDir()), backup.Local(t.TempDir())
	id, content := newBackup(t, local, "p")
	// An interrupted copy left one archive and no manifest: the next copy sends the rest.
	remote.Repo.Mkdir("p", id)
	if err := put(remote.Repo, "p", id, "0-data.tar.zst", content["0-data.tar.zst"]); err != nil {
		t.Fatal(err)
	}
	if e, _ := remote.Get("p", id); e.Status != backup.StatusIncomplete {
		t.Fatalf("without its manifest the remote copy must be incomplete, is %s", e.Status)
	}
	res, err := Copy(ctx, local, remote, "p", id, CopyOptions{Name: "nas"})
	if err != nil || res.Skipped != 1 {
		t.Fatalf("resumed copy: %+v %v", res, err)
	}
	// A damaged local archive is never copied.
	local2 := backup.Local(t.TempDir())
	id2, _ := newBackup(t, local2, "q")
	f := filepath.Join(local2.Dir("q", id2), "1-conf.tar.zst")
	b, _ := os.ReadFile(f)
	b[10] ^= 1
	os.WriteFile(f, b, 0o600)
	_, err = Copy(ctx, local2, remote, "q", id2, CopyOptions{Name: "nas"})
	var ve *backup.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("copy of a damaged archive: %v", err)
	}
	if _, err := remote.Repo.Stat("q", id2, backup.ManifestName); err == nil {
		t.Fatal("a damaged backup got a remote manifest")
	}
}

func TestFetchRefusesARemoteFileThatDoesNotMatch(t *testing.T) {
	ctx := context.Background()
	local, remote := backup.Local(t.TempDir()), backup.Local(t.TempDir())
	id, _ := newBackup(t, local, "p")
	if _, err := Copy(ctx, local, remote, "p", id, CopyOptions{Name: "nas"}); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(remote.Dir("p", id), "0-data.tar.zst")
	b, _ := os.ReadFile(f)
	b[100] ^= 1
	os.WriteFile(f, b, 0o600)
	if _, _, _, err := VerifyRemote(ctx, remote, "p", id, nil); err == nil {
		t.Fatal("verify of a damaged remote copy passed")
	}
	os.RemoveAll(local.LocalRoot())
	if _, err := Fetch(ctx, remote, local, "p", id, FetchOptions{Name: "nas"}); err == nil {
		t.Fatal("fetch of a damaged remote copy passed")
	}
	if e, _ := local.Get("p", id); e.Status == backup.StatusComplete {
		t.Fatal("a failed fetch left a complete local backup")
	}
}

func TestOpenAndProbe(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{dir, "file://" + dir} {
		r, err := Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		if err := Probe(r, "p"); err != nil {
			t.Fatal(err)
		}
		if ids, _ := r.List("p"); len(ids) != 0 {
			t.Fatalf("probe left %v", ids)
		}
	}
	if _, err := Open(context.Background(), "ftp://x/y"); err == nil {
		t.Fatal("unknown scheme accepted")
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o500)
	if os.Geteuid() != 0 {
		r, _ := Open(context.Background(), ro)
		if err := Probe(r, "p"); err == nil {
			t.Fatal("probe of a read-only dir passed")
		}
	}
}
