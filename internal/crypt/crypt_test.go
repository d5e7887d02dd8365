package crypt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/docker-maim/docker-maim/internal/api"
	"golang.org/x/crypto/ssh"
)

// keyPair is one kind of key as a user holds it: the recipient spec and the identity file.
type keyPair struct {
	name      string
	recipient string // the spec given to --encrypt-to
	identity  string // the path given to --identity
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func ageKey(t *testing.T) keyPair {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	file := "# created: by the test\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
	return keyPair{"age-x25519", id.Recipient().String(), writeFile(t, "age.key", []byte(file))}
}

func pqKey(t *testing.T) keyPair {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{"age-pq", id.Recipient().String(), writeFile(t, "pq.key", []byte(id.String()+"\n"))}
}

func sshKey(t *testing.T, kind string, passphrase string) keyPair {
	t.Helper()
	var priv any
	var pub any
	switch kind {
	case "ed25519":
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, p
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	}
	var block *pem.Block
	var err error
	if passphrase != "" {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test key", []byte(passphrase))
	} else {
		block, err = ssh.MarshalPrivateKey(priv, "test key")
	}
	if err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk))) + " user@host"
	return keyPair{"ssh-" + kind, line, writeFile(t, "id_"+kind, pem.EncodeToMemory(block))}
}

func roundTrip(t *testing.T, rcpts []age.Recipient, ids []age.Identity, plain []byte) []byte {
	t.Helper()
	var sealed bytes.Buffer
	w, err := Seal(&sealed, rcpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !IsSealed(bytes.NewReader(sealed.Bytes())) {
		t.Fatal("sealed stream is not seen as sealed")
	}
	if bytes.Contains(sealed.Bytes(), plain[:64]) {
		t.Fatal("the plaintext shows in the sealed stream")
	}
	r, err := Unseal(bytes.NewReader(sealed.Bytes()), ids)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("unsealed %d bytes differ from the %d sealed", len(got), len(plain))
	}
	return sealed.Bytes()
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEveryKeyKind seals to each kind of recipient and opens with its identity file; the
// identity of another kind is refused as ErrWrongIdentity.
func TestEveryKeyKind(t *testing.T) {
	keys := []keyPair{ageKey(t), pqKey(t), sshKey(t, "ed25519", ""), sshKey(t, "rsa", "")}
	plain := randomBytes(t, 200<<10)
	for i, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			rcpts, err := ParseRecipients([]string{k.recipient})
			if err != nil {
				t.Fatal(err)
			}
			if len(rcpts) != 1 {
				t.Fatalf("%d recipients", len(rcpts))
			}
			pub := Describe(rcpts)[0]
			if strings.HasPrefix(k.name, "ssh") && (!strings.HasPrefix(pub, k.name+" SHA256:") || strings.Contains(pub, "user@host")) {
				t.Errorf("public description %q: want the key's type and fingerprint", pub)
			}
			if strings.HasPrefix(k.name, "age") && pub != k.recipient {
				t.Errorf("public description %q: want the age key %q", pub, k.recipient)
			}
			ids, err := LoadIdentities(k.identity)
			if err != nil {
				t.Fatal(err)
			}
			sealed := roundTrip(t, rcpts, ids, plain)
			other, err := LoadIdentities(keys[(i+1)%len(keys)].identity)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Unseal(bytes.NewReader(sealed), other)
			if !errors.Is(err, ErrWrongIdentity) || !errors.Is(err, api.ErrNoIdentity) {
				t.Fatalf("another key's identity: %v, want ErrWrongIdentity", err)
			}
		})
	}
}

// TestSeveralRecipients: any one of the recipients' identities opens it; a recipients
// file, "@file" and a bare path read as age -R does.
func TestSeveralRecipients(t *testing.T) {
	a, e, r := ageKey(t), sshKey(t, "ed25519", ""), sshKey(t, "rsa", "")
	file := writeFile(t, "recipients.txt", []byte("# team\n\n"+e.recipient+"\n"+r.recipient+"\n"))
	for _, specs := range [][]string{{a.recipient, "@" + file}, {a.recipient, file}} {
		rcpts, err := ParseRecipients(specs)
		if err != nil {
			t.Fatal(err)
		}
		if len(rcpts) != 3 {
			t.Fatalf("%v: %d recipients, want 3", specs, len(rcpts))
		}
		plain := randomBytes(t, 70<<10)
		var sealed []byte
		for _, k := range []keyPair{a, e, r} {
			ids, err := LoadIdentities(k.identity)
			if err != nil {
				t.Fatal(err)
			}
			if sealed == nil {
				sealed = roundTrip(t, rcpts, ids, plain)
				continue
			}
			u, err := Unseal(bytes.NewReader(sealed), ids)
			if err != nil {
				t.Fatalf("%s: %v", k.name, err)
			}
			if got, _ := io.ReadAll(u); !bytes.Equal(got, plain) {
				t.Fatalf("%s: differs", k.name)
			}
		}
	}
}

// TestSplitSpecs: MAIM_AGE_RECIPIENTS separated by commas, spaces and newlines, SSH keys
// with their comments kept whole.
func TestSplitSpecs(t *testing.T) {
	a, b, e := ageKey(t), ageKey(t), sshKey(t, "ed25519", "")
	env := a.recipient + ", " + e.recipient + " and more words\n" + b.recipient + "\n@/some/file"
	got := SplitSpecs(env)
	edKey := strings.Join(strings.Fields(e.recipient)[:2], " ")
	want := []string{a.recipient, edKey, b.recipient, "@/some/file"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("SplitSpecs:\n got %q\nwant %q", got, want)
	}
	if _, err := ParseRecipients(got[:3]); err != nil {
		t.Fatal(err)
	}
}

// TestBadRecipients: each mistake is a clear error that quotes no secret.
func TestBadRecipients(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	secretFile := writeFile(t, "secret.txt", []byte(id.String()+"\n"))
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	epk, _ := ssh.NewPublicKey(&ek.PublicKey)
	cases := map[string]string{
		string(ssh.MarshalAuthorizedKey(epk)): "ecdsa-sha2-nistp256 keys are not supported",
		id.String():                           "identity (secret key)",
		"@" + secretFile:                      "identity (secret key) in a recipients file",
		"age1notakey":                         "malformed",
		"ssh-ed25519 AAAAbad":                 "malformed SSH public key",
		"ssh-dss AAAAB3NzaC1kc3MAAACBAP":      "malformed SSH public key",
		"age1yubikey1qwerty":                  "plugin",
		"/no/such/file":                       "neither",
		"@/no/such/file":                      "no such file",
	}
	for spec, want := range cases {
		_, err := ParseRecipients([]string{spec})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", short(spec), err, want)
		}
		if err != nil && strings.Contains(err.Error(), id.String()) {
			t.Errorf("%q: the error quotes the secret key", short(spec))
		}
	}
}

// TestBadIdentities: a passphrase-protected SSH key, an age-encrypted identity file, a
// public key, an empty file: each a clear error.
func TestBadIdentities(t *testing.T) {
	locked := sshKey(t, "ed25519", "hunter2")
	a := ageKey(t)
	var enc bytes.Buffer
	sr, _ := age.NewScryptRecipient("pw")
	sr.SetWorkFactor(10)
	w, _ := age.Encrypt(&enc, sr)
	raw, _ := os.ReadFile(a.identity)
	w.Write(raw)
	w.Close()
	cases := map[string]string{
		locked.identity:                               "protected by a passphrase",
		writeFile(t, "enc.age", enc.Bytes()):          "encrypted with a passphrase",
		writeFile(t, "pub", []byte(a.recipient+"\n")): "a public key",
		writeFile(t, "empty", []byte("# nothing\n")):  "no identities",
		writeFile(t, "garbage", []byte("-----BEGIN NONSENSE-----\nAAAA\n-----END NONSENSE-----\n")): "not a usable SSH private key",
		filepath.Join(t.TempDir(), "missing"):                                                       "no such file",
	}
	for path, want := range cases {
		_, err := LoadIdentities(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", filepath.Base(path), err, want)
		}
	}
}

// TestUnsealErrors: no identity given, corrupted header, a flipped payload byte, a
// truncated stream, a failing source: each typed as the caller needs it. (A damaged
// recipient stanza cannot be told from a wrong identity: age sees both as a key that
// does not unwrap.)
func TestUnsealErrors(t *testing.T) {
	k := ageKey(t)
	rcpts, _ := ParseRecipients([]string{k.recipient})
	ids, _ := LoadIdentities(k.identity)
	sealed := roundTrip(t, rcpts, ids, randomBytes(t, 300<<10))

	_, err := Unseal(bytes.NewReader(sealed), nil)
	if !errors.Is(err, ErrNoIdentityGiven) || !errors.Is(err, api.ErrNoIdentity) || !strings.Contains(err.Error(), IdentityEnv) {
		t.Fatalf("no identity: %v", err)
	}

	readAll := func(b []byte) error {
		r, err := Unseal(bytes.NewReader(b), ids)
		if err != nil {
			return err
		}
		_, err = io.ReadAll(r)
		return err
	}
	header := bytes.Index(sealed, []byte("\n---"))
	for name, mutate := range map[string]func([]byte) []byte{
		"header intro": func(b []byte) []byte { b[5] ^= 1; return b },
		"header MAC":   func(b []byte) []byte { b[header+6] ^= 1; return b },
		"payload":      func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"last chunk":   func(b []byte) []byte { b[len(b)-3] ^= 1; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)-1000] },
		"cut at chunk": func(b []byte) []byte { return b[:header+100+64<<10] },
		"trailing":     func(b []byte) []byte { return append(b, 'x') },
	} {
		err := readAll(mutate(bytes.Clone(sealed)))
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, api.ErrNoIdentity) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}

	boom := errors.New("disk on fire")
	r, err := Unseal(io.MultiReader(bytes.NewReader(sealed[:100<<10]), errReader{boom}), ids)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("a failing source: %v, want its own error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestIsSealed: plain data, zstd, tar and an empty stream are not sealed; Sniff keeps
// every byte.
func TestIsSealed(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("age-encryption.org/v"), {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3}, make([]byte, 512), []byte("age-encryption.org/v1x")} {
		if IsSealed(bytes.NewReader(b)) {
			t.Errorf("%q seen as sealed", b)
		}
	}
	k := ageKey(t)
	rcpts, _ := ParseRecipients([]string{k.recipient})
	var buf bytes.Buffer
	w, _ := Seal(&buf, rcpts)
	w.Write([]byte("hello"))
	w.Close()
	sealed, all := Sniff(bytes.NewReader(buf.Bytes()))
	got, _ := io.ReadAll(all)
	if !sealed || !bytes.Equal(got, buf.Bytes()) {
		t.Fatalf("Sniff: sealed=%v, %d of %d bytes", sealed, len(got), buf.Len())
	}
	if _, err := Seal(&buf, nil); err == nil {
		t.Fatal("Seal without recipients succeeded")
	}
}

// BenchmarkSeal measures the host's cost of sealing a stream to one X25519 recipient, the
// work --encrypt-local adds to every (already compressed) archive.
func BenchmarkSeal(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	rcpts, _ := ParseRecipients([]string{id.Recipient().String()})
	chunk := make([]byte, 1<<20)
	rand.Read(chunk)
	b.SetBytes(int64(len(chunk)))
	w, _ := Seal(io.Discard, rcpts)
	for b.Loop() {
		w.Write(chunk)
	}
	w.Close()
}
