package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/crypt"
)

// keys are a verb's encryption keys, read before the engine is contacted: the recipients
// backups are sealed to (--encrypt-to, else MAIM_AGE_RECIPIENTS), whether the local
// archives are sealed too (--encrypt-local), and the identities that open sealed ones
// (--identity, else MAIM_AGE_IDENTITY).
type keys struct {
	rcpts crypt.Recipients
	local bool
	ids   []age.Identity
}

// recipients resolves the recipients of enc: its own, else MAIM_AGE_RECIPIENTS. A bad
// one, or --encrypt-local with none, is a usage error. The remote copy seals to them.
func recipients(enc maim.EncryptOptions) (crypt.Recipients, error) {
	specs := enc.To
	if len(specs) == 0 {
		specs = crypt.SplitSpecs(os.Getenv(crypt.RecipientsEnv))
	}
	rcpts, err := crypt.ParseRecipients(specs)
	if err != nil {
		return nil, &maim.UsageError{Err: err}
	}
	if enc.Local && len(rcpts) == 0 {
		return nil, &maim.UsageError{Err: fmt.Errorf("--encrypt-local needs recipients: --encrypt-to RECIPIENT or %s", crypt.RecipientsEnv)}
	}
	return rcpts, nil
}

// identities reads the identity files given, else the one MAIM_AGE_IDENTITY names; none
// is no error (only sealed data needs one). A file that cannot be used is a usage error.
func identities(files []string) ([]age.Identity, error) {
	if len(files) == 0 {
		if f := os.Getenv(crypt.IdentityEnv); f != "" {
			files = []string{f}
		}
	}
	var out []age.Identity
	for _, f := range files {
		ids, err := crypt.LoadIdentities(f)
		if err != nil {
			return nil, &maim.UsageError{Err: err}
		}
		out = append(out, ids...)
	}
	return out, nil
}

// resolveKeys reads a verb's keys (encryption options and identity files).
func resolveKeys(enc maim.EncryptOptions, identityFiles []string) (keys, error) {
	rcpts, err := recipients(enc)
	if err != nil {
		return keys{}, err
	}
	ids, err := identities(identityFiles)
	if err != nil {
		return keys{}, err
	}
	return keys{rcpts: rcpts, local: enc.Local, ids: ids}, nil
}

// apply sets the store's sealing (only with --encrypt-local) and identities.
func (k keys) apply(st *backup.Store) {
	if k.local {
		st.Seal = k.rcpts
	}
	st.Identities = k.ids
}

// canOpenOwn checks that the identities open what the recipients seal: an upgrade that
// seals its backup locally restores from it when it fails, so it needs an identity that
// fits before anything stops. Its error wraps api.ErrNoIdentity.
func (k keys) canOpenOwn() error {
	if !k.local {
		return nil
	}
	if len(k.ids) == 0 {
		return fmt.Errorf("%w: upgrade --encrypt-local needs the identity too (--identity FILE or %s): a failed upgrade rolls back from its encrypted backup; nothing was changed", maim.ErrNoIdentity, crypt.IdentityEnv)
	}
	var buf bytes.Buffer
	w, err := crypt.Seal(&buf, k.rcpts)
	if err == nil {
		_, err = w.Write([]byte("docker-maim"))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return err
	}
	r, err := crypt.Unseal(&buf, k.ids)
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if errors.Is(err, maim.ErrNoIdentity) {
		return fmt.Errorf("%w; upgrade --encrypt-local needs an identity of one of its recipients (a failed upgrade rolls back from its encrypted backup); nothing was changed", err)
	}
	return err
}
