package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/crypt"
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
	if err != nil || re.Status != backup.StatusComplete || len(re.Manifest.Stored) != 1 {
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
		if err := Probe(context.Background(), r, "p"); err != nil {
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
		if err := Probe(context.Background(), r, "p"); err == nil {
			t.Fatal("probe of a read-only dir passed")
		}
	}
}

// TestSealedCopy: with recipients the archives leave the host sealed with age (not
// readable as zstd or tar), the remote manifest records the backup as sealed, a resumed
// copy sends the staged ciphertext, and the fetched backup opens with the identity only.
func TestSealedCopy(t *testing.T) {
	ctx := context.Background()
	local, remote := backup.Local(t.TempDir()), backup.Local(t.TempDir())
	id, content := newBackup(t, local, "p")
	key, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rcpts, err := crypt.ParseRecipients([]string{key.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	stage := t.TempDir()
	// The first copy is cut off at the second archive (its place on the remote is taken
	// by a directory): the first is on the remote, the second sealed and staged.
	remote.Repo.Mkdir("p", id)
	block := filepath.Join(remote.Dir("p", id), "1-conf.tar.zst.partial")
	os.Mkdir(block, 0o700)
	if _, err := Copy(ctx, local, remote, "p", id, CopyOptions{Name: "nas", Seal: rcpts, StageDir: stage}); err == nil {
		t.Fatal("the cut-off copy did not fail")
	}
	staged, _, err := archive.FileSHA256(filepath.Join(stage, "p", id, "1-conf.tar.zst.age"))
	if err != nil {
		t.Fatalf("the second archive was not staged: %v", err)
	}
	os.Remove(block)
	res, err := Copy(ctx, local, remote, "p", id, CopyOptions{Name: "nas", Seal: rcpts, StageDir: stage})
	if err != nil || !res.Sealed || !res.Copied || res.Skipped != 1 {
		t.Fatalf("resumed sealed copy: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(stage, "p", id)); err == nil {
		t.Error("the stage was left behind after the copy")
	}
	re, err := remote.Get("p", id)
	if err != nil || re.Status != backup.StatusComplete || !re.Manifest.Sealed() {
		t.Fatalf("remote entry: %+v %v", re, err)
	}
	for _, src := range re.Manifest.Sources {
		f, _ := os.Open(filepath.Join(remote.Dir("p", id), src.Archive))
		sealed := crypt.IsSealed(f)
		f.Close()
		raw, _ := os.ReadFile(filepath.Join(remote.Dir("p", id), src.Archive))
		if !sealed || bytes.Contains(raw, content[src.Archive][:64]) || src.Plain == nil || src.Plain.SHA256 == src.SHA256 {
			t.Errorf("%s is not sealed on the remote as recorded: %+v", src.Archive, src)
		}
	}
	if src, _ := re.Manifest.Source("1-conf.tar.zst"); src.SHA256 != staged {
		t.Errorf("the resumed copy did not send the staged ciphertext (%s, staged %s)", src.SHA256, staged)
	}
	if _, _, _, err := VerifyRemote(ctx, remote, "p", id, nil); err != nil {
		t.Fatalf("verify --remote of the ciphertext without an identity: %v", err)
	}
	os.RemoveAll(local.LocalRoot())
	if _, err := Fetch(ctx, remote, local, "p", id, FetchOptions{Name: "nas"}); err != nil {
		t.Fatal(err)
	}
	le, _ := local.Get("p", id)
	if _, err := le.Open(le.Manifest.Sources[0]); !errors.Is(err, api.ErrNoIdentity) {
		t.Errorf("a fetched sealed archive opened without an identity: %v", err)
	}
	local.Identities = []age.Identity{key}
	le, _ = local.Get("p", id)
	for _, src := range le.Manifest.Sources {
		r, err := le.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, content[src.Archive]) {
			t.Errorf("%s does not open to the archive (%v)", src.Archive, err)
		}
	}
}

// TestTopUpSendsFilesAddedAfterTheCopy: a report written into the backup after its copy
// reaches the remote and its manifest, and a fetch brings it back.
func TestTopUpSendsFilesAddedAfterTheCopy(t *testing.T) {
	ctx := context.Background()
	local, remote := backup.Local(t.TempDir()), backup.Local(t.TempDir())
	id, _ := newBackup(t, local, "p")
	if _, err := Copy(ctx, local, remote, "p", id, CopyOptions{Name: "nas"}); err != nil {
		t.Fatal(err)
	}
	if err := local.AddFile("p", id, "config-merge.json", []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := TopUp(ctx, local, remote, "p", id, CopyOptions{Name: "nas"}); err != nil || n != 1 {
		t.Fatalf("top-up: %d %v", n, err)
	}
	if n, err := TopUp(ctx, local, remote, "p", id, CopyOptions{Name: "nas"}); err != nil || n != 0 {
		t.Fatalf("second top-up: %d %v", n, err)
	}
	os.RemoveAll(local.LocalRoot())
	if _, err := Fetch(ctx, remote, local, "p", id, FetchOptions{Name: "nas"}); err != nil {
		t.Fatal(err)
	}
	if b, err := local.ReadFile("p", id, "config-merge.json"); err != nil || string(b) != "{}\n" {
		t.Fatalf("the topped-up file did not come back: %q %v", b, err)
	}
}

// TestSealedCopyLeavesTheIndexHome: a backup's index names every path of a source; a copy
// sealed on its way keeps none (its manifest has no index, the remote no index file), while
// a plain copy carries it as the backup holds it.
func TestSealedCopyLeavesTheIndexHome(t *testing.T) {
	ctx := context.Background()
	local := backup.Local(t.TempDir())
	id, _ := newBackup(t, local, "p")
	e, err := local.Get("p", id)
	if err != nil {
		t.Fatal(err)
	}
	// The first source gets an index, written into the backup as a backup writes one.
	const idx = "0-data.index.zst"
	raw := []byte("every/path/of/the/source\n")
	if err := os.WriteFile(filepath.Join(local.Dir("p", id), idx), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	sum, size, err := archive.FileSHA256(filepath.Join(local.Dir("p", id), idx))
	if err != nil {
		t.Fatal(err)
	}
	m := e.Manifest
	m.Sources[0].Index = &backup.Index{File: idx, SHA256: sum, Size: size, Entries: 1}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(local.Dir("p", id), backup.ManifestName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rcpts, err := crypt.ParseRecipients([]string{key.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	for _, sealed := range []bool{false, true} {
		remote := backup.Local(t.TempDir())
		opts := CopyOptions{Name: "nas", StageDir: t.TempDir()}
		if sealed {
			opts.Seal = rcpts
		}
		if _, err := Copy(ctx, local, remote, "p", id, opts); err != nil {
			t.Fatalf("sealed %v: %v", sealed, err)
		}
		re, err := remote.Get("p", id)
		if err != nil || re.Status != backup.StatusComplete {
			t.Fatalf("sealed %v: remote entry %+v %v", sealed, re, err)
		}
		_, statErr := os.Stat(filepath.Join(remote.Dir("p", id), idx))
		_, stored := re.Manifest.Stored[idx]
		hasIndex := re.Manifest.Sources[0].Index != nil
		if sealed && (statErr == nil || stored || hasIndex) {
			t.Errorf("the sealed copy carries the index (file: %v, stored: %v, in the manifest: %v)", statErr == nil, stored, hasIndex)
		}
		if !sealed && (statErr != nil || !hasIndex) {
			t.Errorf("the plain copy lost the index (file: %v, in the manifest: %v)", statErr, hasIndex)
		}
	}
}
