// Package crypt owns encryption at rest: archives sealed with age (filippo.io/age, the
// age-encryption.org/v1 format, readable by the `age` CLI) to the recipients a user names
// (age X25519 and post-quantum hybrid keys, ssh-ed25519 and ssh-rsa public keys, or
// recipients files as `age -R` reads them), and opened again with identities read from
// files (age identity files, unencrypted OpenSSH private keys). It knows nothing of
// backups: the callers seal and unseal byte streams; errors say apart "no (matching)
// identity" (api.ErrNoIdentity) from corrupted ciphertext (ErrCorrupt).
package crypt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/docker-maim/docker-maim/internal/api"
)

// Magic is the first line of every sealed stream (the age v1 header's intro).
const Magic = "age-encryption.org/v1"

// IdentityEnv and RecipientsEnv are the environment variables the callers read: the
// identity file for reading sealed data, and the recipients to seal to.
const (
	IdentityEnv   = "MAIM_AGE_IDENTITY"
	RecipientsEnv = "MAIM_AGE_RECIPIENTS"
)

// The errors of Unseal, for errors.Is. ErrNoIdentityGiven and ErrWrongIdentity both wrap
// api.ErrNoIdentity; ErrCorrupt is damaged or tampered ciphertext.
var (
	// ErrNoIdentityGiven: the data is sealed and no identity was given.
	ErrNoIdentityGiven = fmt.Errorf("%w: the data is encrypted with age and no identity was given (--identity FILE or %s)", api.ErrNoIdentity, IdentityEnv)
	// ErrWrongIdentity: none of the identities given can open the data.
	ErrWrongIdentity = fmt.Errorf("%w: none of the identities given (--identity FILE or %s) can decrypt the data", api.ErrNoIdentity, IdentityEnv)
	// ErrCorrupt: the sealed data is damaged or was tampered with (its header or a chunk
	// failed authentication, or it ends early).
	ErrCorrupt = errors.New("encrypted data is corrupted or was tampered with")
)

// Seal returns a writer that encrypts what is written to it to every recipient and writes
// the ciphertext to dst. Close must be called to write the last chunk; it does not close
// dst. With no recipients it fails.
func Seal(dst io.Writer, rcpts []age.Recipient) (io.WriteCloser, error) {
	if len(rcpts) == 0 {
		return nil, errors.New("encrypt: no recipients")
	}
	w, err := age.Encrypt(dst, rcpts...)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return w, nil
}

// Unseal reads the header of the sealed stream src, opens it with the first identity that
// matches, and returns a reader of the plaintext. It reads only the header and the nonce
// before it returns, so it is also the check that an identity fits before anything is
// changed. Errors: ErrNoIdentityGiven (no ids), ErrWrongIdentity (none matches; both wrap
// api.ErrNoIdentity), ErrCorrupt (a damaged header); the reader's errors wrap ErrCorrupt
// when a chunk fails authentication or the stream ends early, and are src's own errors
// when reading src fails.
func Unseal(src io.Reader, ids []age.Identity) (io.Reader, error) {
	if len(ids) == 0 {
		return nil, ErrNoIdentityGiven
	}
	sr := &srcReader{r: src}
	r, err := age.Decrypt(sr, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		switch {
		case sr.err != nil:
			return nil, sr.err
		case errors.As(err, &nm):
			return nil, fmt.Errorf("%w (it is sealed to %d recipient(s))", ErrWrongIdentity, len(nm.StanzaTypes))
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &plainReader{r: r, src: sr}, nil
}

// IsSealed reads the start of r and says whether it is a sealed stream (the age v1
// header). It consumes what it reads: give it a fresh reader (or use Sniff).
func IsSealed(r io.Reader) bool {
	b := make([]byte, len(Magic)+1)
	n, _ := io.ReadFull(r, b)
	return isMagic(b[:n])
}

// Sniff says whether r starts a sealed stream without consuming it: it returns a reader
// of all of r's bytes.
func Sniff(r io.Reader) (sealed bool, all io.Reader) {
	br := bufio.NewReaderSize(r, 64)
	b, _ := br.Peek(len(Magic) + 1)
	return isMagic(b), br
}

func isMagic(b []byte) bool {
	return len(b) == len(Magic)+1 && bytes.Equal(b[:len(Magic)], []byte(Magic)) && b[len(Magic)] == '\n'
}

// srcReader remembers the error of the ciphertext's own reader, so Unseal tells an I/O
// error apart from a failed authentication.
type srcReader struct {
	r   io.Reader
	err error
}

func (s *srcReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// plainReader marks age's payload errors as ErrCorrupt, passing the source's own through.
type plainReader struct {
	r   io.Reader
	src *srcReader
}

func (p *plainReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		if p.src.err != nil {
			return n, p.src.err
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return n, fmt.Errorf("%w: it ends early", ErrCorrupt)
		}
		return n, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return n, err
}
