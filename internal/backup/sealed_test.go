package backup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/crypt"
	"golang.org/x/crypto/ssh"
)

// ageKeys makes an age identity file and returns its recipient and identities.
func ageKeys(t *testing.T) (path string, rcpts []age.Recipient, ids []age.Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rcpts, err = crypt.ParseRecipients([]string{id.Recipient().String()}); err != nil {
		t.Fatal(err)
	}
	if ids, err = crypt.LoadIdentities(path); err != nil {
		t.Fatal(err)
	}
	return path, rcpts, ids
}

// sealedBackup is realBackup written by a Store that seals to rcpts.
func sealedBackup(t *testing.T, rcpts []age.Recipient) (Store, Entry) {
	s := Local(t.TempDir())
	s.Seal = rcpts
	e := realBackup(t, s, archive.Zstd)
	s.Seal = nil
	return s, e
}

// TestSealedBackupRecords: the manifest of a sealed backup records the recipients' public
// keys (no secret), the format version older builds refuse, and both hashes of each
// archive; the stored files are ciphertext, not zstd or tar.
func TestSealedBackupRecords(t *testing.T) {
	keyFile, rcpts, _ := ageKeys(t)
	_, e := sealedBackup(t, rcpts)
	m := e.Manifest
	if m.FormatVersion != FormatSealed || m.Encryption == nil || m.Encryption.Scheme != "age" ||
		len(m.Encryption.Recipients) != 1 || m.Encryption.Recipients[0] != crypt.Describe(rcpts)[0] {
		t.Fatalf("manifest: format %d, encryption %+v", m.FormatVersion, m.Encryption)
	}
	raw, _ := os.ReadFile(filepath.Join(e.Dir, ManifestName))
	secret, _ := os.ReadFile(keyFile)
	if bytes.Contains(raw, bytes.TrimSpace(secret)) {
		t.Fatal("the manifest holds the secret key")
	}
	for _, src := range m.Sources {
		if src.Plain == nil || src.Plain.SHA256 == src.SHA256 || src.Plain.Size >= src.ArchiveSize {
			t.Fatalf("%s: plain %+v, sealed %s/%d: want both hashes, the ciphertext larger", src.Name, src.Plain, src.SHA256, src.ArchiveSize)
		}
		b, err := os.ReadFile(filepath.Join(e.Dir, src.Archive))
		if err != nil {
			t.Fatal(err)
		}
		if !crypt.IsSealed(bytes.NewReader(b)) {
			t.Fatalf("%s is not sealed on disk", src.Archive)
		}
		zr, err := archive.Decompress(bytes.NewReader(b), archive.Zstd)
		if err == nil {
			_, err = io.Copy(io.Discard, zr)
		}
		if err == nil {
			t.Fatalf("%s reads as zstd", src.Archive)
		}
		if _, err := archive.Scan(bytes.NewReader(b)); err == nil {
			t.Fatalf("%s reads as tar", src.Archive)
		}
	}
}

// TestSealedVerifyAndOpen: without an identity Verify checks the ciphertext only and
// CheckHashes (the restore's check) refuses with api.ErrNoIdentity; a wrong identity is
// refused alike; with the identity Verify reads everything and Open gives the archive
// byte for byte.
func TestSealedVerifyAndOpen(t *testing.T) {
	_, rcpts, ids := ageKeys(t)
	_, _, wrong := ageKeys(t)
	s, e := sealedBackup(t, rcpts)

	if err := s.Verify(e, nil); err != nil {
		t.Fatalf("verify without identity: %v", err)
	}
	if s.Checks(e) == "" {
		t.Fatal("Checks does not say only the ciphertext was checked")
	}
	if err := s.CheckHashes(e, nil); !errors.Is(err, api.ErrNoIdentity) || !errors.Is(err, crypt.ErrNoIdentityGiven) {
		t.Fatalf("CheckHashes without identity: %v", err)
	}
	if _, err := e.Open(e.Manifest.Sources[0]); !errors.Is(err, api.ErrNoIdentity) {
		t.Fatalf("Open without identity: %v", err)
	}

	s.Identities = wrong
	ew, _ := s.Get("demo", e.ID)
	if err := s.CheckHashes(ew, nil); !errors.Is(err, crypt.ErrWrongIdentity) {
		t.Fatalf("CheckHashes with a wrong identity: %v", err)
	}
	if err := s.Verify(ew, nil); !errors.Is(err, api.ErrNoIdentity) {
		t.Fatalf("Verify with a wrong identity: %v", err)
	}

	s.Identities = ids
	e, _ = s.Get("demo", e.ID)
	if err := s.CheckHashes(e, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(e, nil); err != nil || s.Checks(e) != "" {
		t.Fatalf("verify with the identity: %v (%s)", err, s.Checks(e))
	}
	for _, src := range e.Manifest.Sources {
		f, err := e.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := archive.Decompress(f, archive.Zstd)
		if err != nil {
			t.Fatal(err)
		}
		st, err := archive.Scan(zr)
		f.Close()
		if err != nil || st.Entries != src.Entries || st.Bytes != src.Bytes {
			t.Fatalf("%s opened: %+v, %v; manifest %d entries %d bytes", src.Name, st, err, src.Entries, src.Bytes)
		}
	}
}

// TestSealedTampering: a flipped ciphertext byte fails the hash check; a manifest whose
// plaintext hash was edited fails Verify with the identity; a sealed manifest without a
// plaintext hash, or a plain one with one, is corrupt.
func TestSealedTampering(t *testing.T) {
	_, rcpts, ids := ageKeys(t)
	s, e := sealedBackup(t, rcpts)
	s.Identities = ids
	mpath := filepath.Join(e.Dir, ManifestName)
	orig, _ := os.ReadFile(mpath)

	edit := func(f func(m map[string]any)) {
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		if err := os.WriteFile(mpath, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	source0 := func(m map[string]any) map[string]any { return m["sources"].([]any)[0].(map[string]any) }

	edit(func(m map[string]any) { source0(m)["plain"].(map[string]any)["sha256"] = strings.Repeat("0", 64) })
	en, _ := s.Get("demo", e.ID)
	if err := s.Verify(en, nil); err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Fatalf("edited plaintext hash: %v", err)
	}
	edit(func(m map[string]any) { delete(source0(m), "plain") })
	if en, _ := s.Get("demo", e.ID); en.Status != StatusCorrupt || !strings.Contains(en.Problem, "plaintext hash") {
		t.Fatalf("no plaintext hash: %s %s", en.Status, en.Problem)
	}
	edit(func(m map[string]any) { delete(m, "encryption") })
	if en, _ := s.Get("demo", e.ID); en.Status != StatusCorrupt || !strings.Contains(en.Problem, "not encrypted") {
		t.Fatalf("plaintext hash without encryption: %s %s", en.Status, en.Problem)
	}
	edit(func(m map[string]any) {})

	a := filepath.Join(e.Dir, e.Manifest.Sources[0].Archive)
	b, _ := os.ReadFile(a)
	b[len(b)/2] ^= 1
	os.WriteFile(a, b, 0o600)
	en, _ = s.Get("demo", e.ID)
	var ve *VerifyError
	if err := s.CheckHashes(en, nil); !errors.As(err, &ve) || errors.Is(err, api.ErrNoIdentity) {
		t.Fatalf("a flipped ciphertext byte: %v", err)
	}
}

// TestSealedInteropAgeCLI: Debian's age CLI decrypts our sealed archive with the same
// identity file, and zstd -d | tar -t reads what it gives.
func TestSealedInteropAgeCLI(t *testing.T) {
	for _, tool := range []string{"age", "zstd", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("MAIM_REQUIRE_AGE") != "" {
				t.Fatalf("%s not installed (apt-get install age zstd tar)", tool)
			}
			t.Skipf("%s not installed (apt-get install age): MAIM_REQUIRE_AGE=1 makes this a failure", tool)
		}
	}
	keyFile, rcpts, _ := ageKeys(t)
	sshFile, sshRcpt := sshEd25519(t)
	more, err := crypt.ParseRecipients([]string{sshRcpt})
	if err != nil {
		t.Fatal(err)
	}
	_, e := sealedBackup(t, append(rcpts, more...))
	src := e.Manifest.Sources[0]
	sealed := filepath.Join(e.Dir, src.Archive)
	plain := filepath.Join(t.TempDir(), "plain.tar.zst")
	if out, err := exec.Command("age", "-d", "-i", sshFile, "-o", plain, sealed).CombinedOutput(); err != nil {
		t.Fatalf("age -d -i id_ed25519: %v\n%s", err, out)
	}
	if err := os.Remove(plain); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("age", "-d", "-i", keyFile, "-o", plain, sealed).CombinedOutput(); err != nil {
		t.Fatalf("age -d: %v\n%s", err, out)
	}
	if out, err := exec.Command("sh", "-c", `zstd -d -c "$1" | tar -tf -`, "sh", plain).CombinedOutput(); err != nil {
		t.Fatalf("zstd -d | tar -t: %v\n%s", err, out)
	} else if got := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; int64(got) != src.Entries {
		t.Fatalf("tar -t lists %d entries, the manifest says %d:\n%s", got, src.Entries, out)
	} else if !strings.Contains(string(out), "sub/deep/c.txt") {
		t.Fatalf("tar -t:\n%s", out)
	}
	if out, err := exec.Command("sh", "-c", `zstd -d -c "$1" >/dev/null`, "sh", sealed).CombinedOutput(); err == nil {
		t.Fatalf("zstd reads the sealed archive:\n%s", out)
	}
	if out, err := exec.Command("tar", "-tf", sealed).CombinedOutput(); err == nil {
		t.Fatalf("tar reads the sealed archive:\n%s", out)
	}
}

// TestSealedCopy: a plain backup's archives sealed with SealStream and its manifest made
// by SealedCopy form a sealed backup another store reads as complete, verifies whole with
// the identity and refuses to restore without one (the remote copy's path); the plain
// manifest is left as it was.
func TestSealedCopy(t *testing.T) {
	_, rcpts, ids := ageKeys(t)
	plain := Local(t.TempDir())
	e := realBackup(t, plain, archive.Zstd)
	remote := Local(t.TempDir())
	dir := filepath.Join(remote.Repo.(LocalDir).Root, "demo", e.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sealed := map[string]Plain{}
	for _, src := range e.Manifest.Sources {
		f, err := e.OpenStored(src)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, src.Archive))
		if err != nil {
			t.Fatal(err)
		}
		s, p, err := SealStream(out, f, rcpts)
		f.Close()
		out.Close()
		if err != nil {
			t.Fatal(err)
		}
		if p.SHA256 != src.SHA256 || p.Size != src.ArchiveSize || s.SHA256 == src.SHA256 {
			t.Fatalf("%s: SealStream plain %+v sealed %+v; archive %s/%d", src.Archive, p, s, src.SHA256, src.ArchiveSize)
		}
		sealed[src.Archive] = s
	}
	if _, err := e.Manifest.SealedCopy(rcpts, map[string]Plain{}); err == nil {
		t.Fatal("SealedCopy without the sealed files succeeded")
	}
	c, err := e.Manifest.SealedCopy(rcpts, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if e.Manifest.Sealed() || e.Manifest.Sources[0].Plain != nil {
		t.Fatal("SealedCopy changed the plain manifest")
	}
	b, _ := json.Marshal(c)
	if err := os.WriteFile(filepath.Join(dir, ManifestName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	re, err := remote.Get("demo", e.ID)
	if err != nil || re.Status != StatusComplete {
		t.Fatalf("the sealed copy: %+v, %v", re, err)
	}
	if err := remote.CheckHashes(re, nil); !errors.Is(err, api.ErrNoIdentity) {
		t.Fatalf("the sealed copy without identity: %v", err)
	}
	remote.Identities = ids
	re, _ = remote.Get("demo", e.ID)
	if err := remote.Verify(re, nil); err != nil || remote.Checks(re) != "" {
		t.Fatalf("verify of the sealed copy with the identity: %v", err)
	}
	if _, err := c.SealedCopy(rcpts, sealed); err == nil {
		t.Fatal("sealing a sealed manifest again succeeded")
	}
}

// sshEd25519 writes an unencrypted OpenSSH ed25519 key and returns its path and public key.
func sshEd25519(t *testing.T) (string, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return p, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk)))
}
