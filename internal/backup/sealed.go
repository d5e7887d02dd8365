package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"

	"filippo.io/age"
	"github.com/docker-maim/docker-maim/internal/crypt"
	"github.com/docker-maim/docker-maim/internal/project"
)

// Encryption at rest: a Writer of a Store with Seal writes every archive sealed with age
// (internal/crypt) and records, per archive, the ciphertext's hash and size (SHA256,
// ArchiveSize: the file as stored) and the plaintext's (Plain); the manifest records the
// recipients' public descriptions (Encryption) and stays plaintext. Reading: OpenStored
// gives the file as stored (hash checks, copies), Open the archive itself (unsealed with
// the Store's Identities when the backup is sealed).

// writerFunc is a func as an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// sealer seals what is written to it, hashing and counting the plaintext.
type sealer struct {
	w io.WriteCloser
	h hash.Hash
	n int64
}

func newSealer(dst io.Writer, rcpts []age.Recipient) (*sealer, error) {
	w, err := crypt.Seal(dst, rcpts)
	if err != nil {
		return nil, err
	}
	return &sealer{w: w, h: sha256.New()}, nil
}

func (s *sealer) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	return n, err
}

func (s *sealer) Close() error { return s.w.Close() }

// Plain is the plaintext of a sealed archive (nil for a plain one): call it after Commit.
func (a *Archive) Plain() *Plain {
	if a.seal == nil {
		return nil
	}
	return &Plain{SHA256: hex.EncodeToString(a.seal.h.Sum(nil)), Size: a.seal.n}
}

// Sealed says the writer seals its archives.
func (w *Writer) Sealed() bool { return len(w.seal) > 0 }

// recordSealing records the writer's encryption in m (the format version that older
// builds refuse) or leaves a plain writer's manifest without.
func (w *Writer) recordSealing(m *Manifest) {
	if len(w.seal) == 0 {
		m.Encryption = nil
		return
	}
	m.Encryption = &Encryption{Scheme: SchemeAge, Recipients: crypt.Describe(w.seal)}
	m.FormatVersion = FormatSealed
}

// PlainSHA256 is the SHA-256 of the archive itself (what Entry.Open reads): the
// plaintext's for a sealed archive, else SHA256.
func (s Source) PlainSHA256() string {
	if s.Plain != nil {
		return s.Plain.SHA256
	}
	return s.SHA256
}

// Sealed says the backup's archives are sealed (Encryption).
func (m *Manifest) Sealed() bool { return m != nil && m.Encryption != nil }

// archives lists every archive of m as a Source (bases, deltas, dumps).
func (m *Manifest) archives() []Source {
	var all []Source
	for _, src := range m.Sources {
		if src.Kind == project.KindHostPath && src.Archive == "" {
			continue
		}
		all = append(all, src)
		if src.Delta != nil {
			all = append(all, src.DeltaSource())
		}
	}
	for _, d := range m.Dumps {
		all = append(all, d.Source())
	}
	return all
}

// validateSealing: a sealed manifest names its scheme and recipients and gives every
// archive its plaintext's hash; a plain one gives none.
func (m *Manifest) validateSealing() error {
	if m.Encryption == nil {
		for _, a := range m.archives() {
			if a.Plain != nil {
				return fmt.Errorf("archive %q: a plaintext hash in a backup that is not encrypted", a.Archive)
			}
		}
		return nil
	}
	if m.Encryption.Scheme != SchemeAge {
		return fmt.Errorf("encryption scheme %q is not supported (only %q)", m.Encryption.Scheme, SchemeAge)
	}
	if len(m.Encryption.Recipients) == 0 {
		return errors.New("encryption names no recipients")
	}
	for _, a := range m.archives() {
		if a.Plain == nil || a.Plain.Size < 0 || !isSHA256(a.Plain.SHA256) {
			return fmt.Errorf("archive %q: encrypted, and no valid plaintext hash and size", a.Archive)
		}
	}
	return nil
}

func isSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// OpenStored opens an archive of a backup as the repository keeps it: the ciphertext of a
// sealed backup (what SHA256 and ArchiveSize describe).
func (e Entry) OpenStored(src Source) (io.ReadCloser, error) {
	if e.repo == nil {
		return nil, fmt.Errorf("backup %s: not read from a store", e.ID)
	}
	return e.repo.Open(e.project, src.holder(e.ID), src.Archive)
}

// LocalPath is the path on this host of the archive of src in backup e, to be read as it
// is: true only when e's repository keeps plain files here (a FileRepository: LocalDir)
// and e is not sealed (whose archives Open must unseal). Otherwise (a remote, an
// encrypted backup) Open is the way to read it. Like FilePath it checks nothing: not that
// the file exists, nor its hash.
func (e Entry) LocalPath(src Source) (string, bool) {
	fr, ok := e.repo.(FileRepository)
	if !ok || e.Manifest.Sealed() {
		return "", false
	}
	return fr.FilePath(e.project, src.holder(e.ID), src.Archive)
}

// Open opens an archive of a backup for reading: the archive itself. A sealed backup's
// archive is unsealed with the Store's Identities (an error wrapping api.ErrNoIdentity
// without a matching one), and read to its end its plaintext must hash as Plain records
// (else the read fails with ErrPlainMismatch).
func (e Entry) Open(src Source) (io.ReadCloser, error) {
	f, err := e.OpenStored(src)
	if err != nil || !e.Manifest.Sealed() {
		return f, err
	}
	r, err := crypt.Unseal(f, e.ids)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("backup %s: %s: %w", e.ID, src.Archive, err)
	}
	if src.Plain == nil {
		f.Close()
		return nil, fmt.Errorf("backup %s: %s: no plaintext hash recorded", e.ID, src.Archive)
	}
	return &plainCheck{r: r, c: f, h: sha256.New(), want: *src.Plain, name: src.Archive}, nil
}

// ErrPlainMismatch: an unsealed archive is not the plaintext the manifest records.
var ErrPlainMismatch = errors.New("the decrypted archive does not match the manifest's plaintext hash")

// plainCheck hashes the plaintext as it is read and checks it at its end.
type plainCheck struct {
	r    io.Reader
	c    io.Closer
	h    hash.Hash
	n    int64
	want Plain
	name string
}

func (p *plainCheck) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.h.Write(b[:n])
	p.n += int64(n)
	if err == io.EOF {
		if sum := hex.EncodeToString(p.h.Sum(nil)); sum != p.want.SHA256 || p.n != p.want.Size {
			return n, fmt.Errorf("%s: %w (%d bytes, sha256 %.12s; manifest: %d, %.12s)", p.name, ErrPlainMismatch, p.n, sum, p.want.Size, p.want.SHA256)
		}
	}
	return n, err
}

func (p *plainCheck) Close() error { return p.c.Close() }

// CheckIdentity checks, for a sealed backup, that the Store's Identities open the header
// of every archive (which reads a few hundred bytes of each); a plain backup passes. Its
// error wraps api.ErrNoIdentity when no identity was given or none matches. Restore and
// rollback call it (through CheckHashes) before anything stops.
func (e Entry) CheckIdentity() error {
	if e.Manifest == nil || !e.Manifest.Sealed() {
		return nil
	}
	for _, a := range e.Manifest.archives() {
		f, err := e.OpenStored(a)
		if err != nil {
			return &VerifyError{Backup: e.ID, File: a.Archive, Reason: err.Error()}
		}
		_, err = crypt.Unseal(f, e.ids)
		f.Close()
		if err != nil {
			return fmt.Errorf("backup %s (encrypted with age to %s): %s: %w", e.ID, recipientsLine(e.Manifest.Encryption), a.Archive, err)
		}
	}
	return nil
}

func recipientsLine(enc *Encryption) string {
	if len(enc.Recipients) == 1 {
		return enc.Recipients[0]
	}
	return fmt.Sprintf("%d recipients: %s, ...", len(enc.Recipients), enc.Recipients[0])
}

// unsealing wraps read (a reader of an archive) for a sealed backup with identities: the
// ciphertext it is given is unsealed, read reads the plaintext, and the plaintext is read
// to its end and compared with src.Plain. Without identities it returns nil: only the
// ciphertext's hash can be checked. A plain backup's read is returned as it is.
func (e Entry) unsealing(src Source, read func(io.Reader) error) func(io.Reader) error {
	if read == nil || !e.Manifest.Sealed() {
		return read
	}
	if len(e.ids) == 0 {
		return nil
	}
	fail := failure(e, src)
	return func(r io.Reader) error {
		pr, err := crypt.Unseal(r, e.ids)
		if err != nil {
			return fmt.Errorf("backup %s: %s: %w", e.ID, src.Archive, err)
		}
		h := sha256.New()
		var n int64
		cr := &progressReader{r: io.TeeReader(pr, h), fn: func(k int64) { n += k }}
		if err := read(cr); err != nil {
			return err
		}
		if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, cr, make([]byte, 1<<20)); err != nil {
			return fail("%v", err)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); src.Plain == nil || sum != src.Plain.SHA256 || n != src.Plain.Size {
			return fail("decrypted: %d bytes, sha256 %s; the manifest's plaintext differs", n, sum)
		}
		return nil
	}
}

// Checks says what Verify can check of the backup with the Store's identities: "" for a
// plain backup or a sealed one it can open whole, else why only the ciphertext is.
func (s Store) Checks(e Entry) string {
	if e.Manifest.Sealed() && len(e.ids) == 0 {
		return "encrypted and no identity given: the ciphertext's hashes were checked, not the archives inside"
	}
	return ""
}

// SealStream copies the plaintext archive src, sealed to rcpts, into dst: the sealing of a
// plain local archive on its way off the host (a remote copy). It returns the ciphertext's
// SHA-256 and size (what the copy's manifest records as SHA256 and ArchiveSize) and the
// plaintext's (its Plain).
func SealStream(dst io.Writer, src io.Reader, rcpts []age.Recipient) (sealed, plain Plain, err error) {
	ch := sha256.New()
	cw := &countWriter{w: io.MultiWriter(dst, ch)}
	s, err := newSealer(cw, rcpts)
	if err != nil {
		return sealed, plain, err
	}
	if _, err := io.CopyBuffer(s, src, make([]byte, 1<<20)); err != nil {
		return sealed, plain, err
	}
	if err := s.Close(); err != nil {
		return sealed, plain, err
	}
	return Plain{SHA256: hex.EncodeToString(ch.Sum(nil)), Size: cw.n}, Plain{SHA256: hex.EncodeToString(s.h.Sum(nil)), Size: s.n}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SealedCopy is the manifest of m's archives sealed to rcpts (a remote copy of a plain
// local backup): Encryption set, each archive's SHA256 and ArchiveSize replaced by its
// sealed file's (sealed, by archive name, as SealStream returned them) and its Plain what
// m recorded. m itself is left as it is; an archive missing from sealed, or a backup that
// is sealed already, is an error.
func (m *Manifest) SealedCopy(rcpts []age.Recipient, sealed map[string]Plain) (*Manifest, error) {
	if m.Sealed() {
		return nil, errors.New("the backup is encrypted already")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var c Manifest
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	swap := func(name string, sum *string, size *int64, plain **Plain) error {
		s, ok := sealed[name]
		if !ok {
			return fmt.Errorf("archive %s: no sealed copy", name)
		}
		*plain = &Plain{SHA256: *sum, Size: *size}
		*sum, *size = s.SHA256, s.Size
		return nil
	}
	for i := range c.Sources {
		src := &c.Sources[i]
		if src.Kind == project.KindHostPath && src.Archive == "" {
			continue
		}
		if err := swap(src.Archive, &src.SHA256, &src.ArchiveSize, &src.Plain); err != nil {
			return nil, err
		}
		if d := src.Delta; d != nil {
			if err := swap(d.Archive, &d.SHA256, &d.ArchiveSize, &d.Plain); err != nil {
				return nil, err
			}
		}
		// A sealed backup keeps no index, as one sealed when written keeps none: it would
		// name every path in the clear, and a sealed archive cannot be read at random
		// (its restore is the full extraction). The copy leaves the index file behind.
		src.Index = nil
	}
	for i := range c.Dumps {
		d := &c.Dumps[i]
		if err := swap(d.Archive, &d.SHA256, &d.ArchiveSize, &d.Plain); err != nil {
			return nil, err
		}
	}
	c.Encryption = &Encryption{Scheme: SchemeAge, Recipients: crypt.Describe(rcpts)}
	c.FormatVersion = FormatSealed
	return &c, c.validate()
}
