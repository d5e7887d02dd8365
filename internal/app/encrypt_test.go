package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/crypt"
)

func keyFile(t *testing.T) (string, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, id.Recipient().String()
}

// TestResolveKeys: flags win over the environment; --encrypt-local without recipients and
// a bad key are usage errors; the store seals only with Local; an upgrade that seals
// locally needs an identity that opens what it seals.
func TestResolveKeys(t *testing.T) {
	k1, r1 := keyFile(t)
	k2, r2 := keyFile(t)
	t.Setenv(crypt.RecipientsEnv, r1+", "+r2)
	t.Setenv(crypt.IdentityEnv, k1)

	k, err := resolveKeys(maim.EncryptOptions{}, nil)
	if err != nil || len(k.rcpts) != 2 || len(k.ids) != 1 || k.local {
		t.Fatalf("from the environment: %+v, %v", k, err)
	}
	var st backup.Store
	k.apply(&st)
	if st.Seal != nil || len(st.Identities) != 1 {
		t.Fatalf("without --encrypt-local the store seals: %+v", st)
	}
	if k, err = resolveKeys(maim.EncryptOptions{To: []string{r2}, Local: true}, []string{k2}); err != nil || len(k.rcpts) != 1 {
		t.Fatalf("flags: %+v, %v", k, err)
	}
	k.apply(&st)
	if len(st.Seal) != 1 || k.canOpenOwn() != nil {
		t.Fatalf("--encrypt-local: store %+v, own check %v", st, k.canOpenOwn())
	}
	k.ids = nil
	if err := k.canOpenOwn(); !errors.Is(err, maim.ErrNoIdentity) || !strings.Contains(err.Error(), "--identity") {
		t.Fatalf("no identity: %v", err)
	}
	k.ids, _ = crypt.LoadIdentities(k1)
	if err := k.canOpenOwn(); !errors.Is(err, crypt.ErrWrongIdentity) {
		t.Fatalf("an identity of another key: %v", err)
	}

	t.Setenv(crypt.RecipientsEnv, "")
	var ue *maim.UsageError
	if _, err := resolveKeys(maim.EncryptOptions{Local: true}, nil); !errors.As(err, &ue) {
		t.Fatalf("--encrypt-local without recipients: %v", err)
	}
	if _, err := resolveKeys(maim.EncryptOptions{To: []string{"age1nope"}}, nil); !errors.As(err, &ue) {
		t.Fatalf("a bad recipient: %v", err)
	}
	if _, err := resolveKeys(maim.EncryptOptions{}, []string{filepath.Join(t.TempDir(), "missing")}); !errors.As(err, &ue) {
		t.Fatalf("a missing identity file: %v", err)
	}
}
