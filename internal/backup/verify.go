package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/docker-maim/docker-maim/internal/archive"
)

// VerifyError names the backup file that failed verification and why.
type VerifyError struct {
	Backup string
	File   string
	Reason string
}

func (e *VerifyError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("backup %s: %s", e.Backup, e.Reason)
	}
	return fmt.Sprintf("backup %s: %s: %s", e.Backup, e.File, e.Reason)
}

// Verify re-hashes every archive of the backup, reads every entry, and compares hash,
// size, entry, file and byte counts with the manifest. progress, if set, gets archive bytes.
func (s Store) Verify(e Entry, progress func(src Source, n int64)) error {
	if err := e.CheckComplete(); err != nil {
		return err
	}
	for _, src := range e.Manifest.Sources {
		if err := verifySource(e, src, progress); err != nil {
			return err
		}
	}
	if err := s.verifyChains(e, e.Manifest.Sources, progress, true); err != nil {
		return err
	}
	for _, d := range e.Manifest.Dumps {
		if err := verifyDump(e, d, progress); err != nil {
			return err
		}
	}
	return nil
}

// verifyDump re-hashes a dump's archive, decompresses it whole and compares its size and
// uncompressed bytes with the manifest (a dump is SQL text, no tar: nothing more to scan).
func verifyDump(e Entry, d Dump, progress func(Source, int64)) error {
	src := d.Source()
	fail := failure(e, src)
	return readArchive(e, src, progress, func(r io.Reader) error {
		comp, err := archive.ParseCompression(e.Manifest.Compression)
		if err != nil {
			comp = archive.DetectCompression(d.Archive)
		}
		dr, err := archive.Decompress(r, comp)
		if err != nil {
			return fail("cannot decompress: %v", err)
		}
		defer dr.Close()
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, dr, make([]byte, 1<<20))
		if err != nil {
			return fail("unreadable: %v", err)
		}
		if n != d.Bytes {
			return fail("holds %d bytes of dump; manifest says %d", n, d.Bytes)
		}
		return nil
	})
}

// VerifySources is Verify for the named sources of the backup only: each one's archive is
// re-hashed, decompressed and scanned whole, its counts compared with the manifest. A
// name the backup does not hold fails. The upgrade reads back what --reset-data is about
// to empty this way.
func (s Store) VerifySources(e Entry, names []string, progress func(src Source, n int64)) error {
	if err := e.CheckComplete(); err != nil {
		return err
	}
	srcs, err := e.sourcesNamed(names)
	if err != nil {
		return err
	}
	for _, src := range srcs {
		if err := verifySource(e, src, progress); err != nil {
			return err
		}
	}
	return s.verifyChains(e, srcs, progress, true)
}

// sourcesNamed are the sources of e's manifest with the given names, in that order; a name
// the backup does not hold fails.
func (e Entry) sourcesNamed(names []string) ([]Source, error) {
	var out []Source
	for _, name := range names {
		src, ok := e.Manifest.Source(name)
		if !ok {
			return nil, &VerifyError{Backup: e.ID, Reason: fmt.Sprintf("holds no source %q", name)}
		}
		out = append(out, src)
	}
	return out, nil
}

// failure makes the VerifyErrors of one archive of e.
func failure(e Entry, src Source) func(format string, a ...any) error {
	return func(format string, a ...any) error {
		return &VerifyError{Backup: e.ID, File: src.Archive, Reason: fmt.Sprintf(format, a...)}
	}
}

// CheckHashes re-hashes the archives (a two-pass source's base and delta) of the named
// sources, all of them when names is empty, and compares each with the manifest's SHA-256
// and size. It reads each file once and decompresses nothing: the check a restore makes
// before it touches anything. A file that passes is byte for byte the one the backup
// wrote and counted; the restore's extraction reads every entry of it anyway and compares
// its counts with the manifest, so the whole-archive read of Verify would only decompress
// everything a second time. A backup the writer itself got wrong is caught by that
// comparison, after the safety backup.
//
// A sealed backup's archives are checked as stored (the ciphertext), after its identity
// check (Entry.CheckIdentity): without a matching identity nothing else is read.
func (s Store) CheckHashes(e Entry, names []string) error {
	if err := e.CheckComplete(); err != nil {
		return err
	}
	if err := e.CheckIdentity(); err != nil {
		return err
	}
	srcs := e.Manifest.Sources
	if len(names) > 0 {
		var err error
		if srcs, err = e.sourcesNamed(names); err != nil {
			return err
		}
	}
	for _, src := range srcs {
		if err := checkHash(e, src); err != nil {
			return err
		}
		if src.Delta != nil {
			if err := checkHash(e, src.DeltaSource()); err != nil {
				return err
			}
		}
	}
	return s.verifyChains(e, srcs, nil, false)
}

// CheckComplete fails for a backup that is not complete (incomplete, corrupt): one that
// has no manifest to read, or a listing that already found it damaged.
func (e Entry) CheckComplete() error {
	if e.Status != StatusComplete || e.Manifest == nil {
		return &VerifyError{Backup: e.ID, Reason: string(e.Status) + ": " + e.Problem}
	}
	return nil
}

func checkHash(e Entry, src Source) error {
	return readArchive(e, src, nil, nil)
}

func verifySource(e Entry, src Source, progress func(Source, int64)) error {
	if err := verifyArchive(e, src, progress, src.Base != nil, baseDeleted(src)); err != nil {
		return err
	}
	if src.Delta != nil {
		if err := verifyArchive(e, src.DeltaSource(), progress, true, src.Delta.Deleted); err != nil {
			return err
		}
	}
	if src.Index != nil {
		if _, err := readIndex(e, src, progress); err != nil {
			return err
		}
	}
	return nil
}

// verifyArchive re-hashes and scans src.Archive; delta says whether it must be the delta
// of a two-pass backup or must not be. deleted is how many paths its deletion list (the
// MAIM.deleted PAX global headers, which a restore removes from the base) must hold: the
// manifest's count for a delta, none for any other archive. archive.Scan refuses a list
// with a name that is not a clean relative path (absolute, empty, a ".." component, a NUL
// byte); a list of safe names but another length than the manifest records (a forged or
// damaged list deleting more, or other, paths than the backup took) fails here.
func verifyArchive(e Entry, src Source, progress func(Source, int64), delta bool, deleted int64) error {
	fail := failure(e, src)
	return readArchive(e, src, progress, func(r io.Reader) error {
		comp, err := archive.ParseCompression(e.Manifest.Compression)
		if err != nil {
			comp = archive.DetectCompression(src.Archive)
		}
		dr, err := archive.Decompress(r, comp)
		if err != nil {
			return fail("cannot decompress: %v", err)
		}
		st, err := archive.Scan(dr)
		dr.Close()
		if err != nil {
			return fail("unreadable: %v", err)
		}
		if st.Delta != delta {
			return fail("is %sa delta archive, the manifest says it is %s", map[bool]string{true: "", false: "not "}[st.Delta], map[bool]string{true: "one", false: "not"}[delta])
		}
		if st.Entries != src.Entries || st.Files != src.Files || st.Bytes != src.Bytes {
			return fail("holds %d entries, %d files, %d bytes; manifest says %d, %d, %d",
				st.Entries, st.Files, st.Bytes, src.Entries, src.Files, src.Bytes)
		}
		if st.Deleted != deleted {
			return fail("its deletion list names %d path(s); manifest says %d deleted", st.Deleted, deleted)
		}
		return nil
	})
}

// readArchive opens src.Archive, hands it to read (nil: nothing but the hash), reads what
// read left so the hash covers the whole file, and compares size and SHA-256 with the
// manifest. progress, if set, gets the bytes read. A sealed archive's hash is the
// ciphertext's; read gets the plaintext when the Store has identities (Entry.unsealing),
// else is skipped.
func readArchive(e Entry, src Source, progress func(Source, int64), read func(io.Reader) error) error {
	fail := failure(e, src)
	f, err := e.OpenStored(src)
	if err != nil {
		return fail("%v", err)
	}
	read = e.unsealing(src, read)
	defer f.Close()
	h := sha256.New()
	var n int64
	var r io.Reader = io.TeeReader(f, h)
	r = &progressReader{r: r, fn: func(k int64) {
		n += k
		if progress != nil {
			progress(src, k)
		}
	}}
	if read != nil {
		if err := read(r); err != nil {
			return err
		}
	}
	// Large reads: io.Discard's own ReadFrom reads 8 KiB at a time.
	if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, r, make([]byte, 1<<20)); err != nil {
		return fail("%v", err)
	}
	if src.ArchiveSize > 0 && n != src.ArchiveSize {
		return fail("%d bytes, manifest says %d", n, src.ArchiveSize)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != src.SHA256 {
		return fail("sha256 %s, manifest says %s", sum, src.SHA256)
	}
	return nil
}

type progressReader struct {
	r  io.Reader
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.fn(int64(n))
	}
	return n, err
}

// baseDeleted is how many paths the deletion list of src's first archive names: an
// incremental source's (Base.Deleted), none for a full archive.
func baseDeleted(src Source) int64 {
	if src.Base == nil {
		return 0
	}
	return src.Base.Deleted
}

// verifyChains checks every earlier link of the chains of srcs (Store.Chain): whole (every
// archive re-hashed and scanned, as Verify does) or, without whole, the hashes only (as
// CheckHashes does). The links of srcs themselves are checked by the caller.
func (s Store) verifyChains(e Entry, srcs []Source, progress func(Source, int64), whole bool) error {
	for _, src := range srcs {
		if src.Base == nil {
			continue
		}
		links, err := s.Chain(e, src)
		if err != nil {
			return &VerifyError{Backup: e.ID, File: src.Archive, Reason: err.Error()}
		}
		for _, l := range links[:len(links)-1] {
			if whole {
				err = verifySource(l.Entry, l.Source, progress)
			} else if err = checkHash(l.Entry, l.Source); err == nil && l.Source.Delta != nil {
				err = checkHash(l.Entry, l.Source.DeltaSource())
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
