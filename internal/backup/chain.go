package backup

import (
	"errors"
	"fmt"
)

// Incremental backups.
//
// A source with a Base holds only what changed since the source as an earlier backup (the
// base) holds it: its Archive is a delta in the two-pass format (archive.ApplyDelta: what
// changed, every directory's header, the deletion list last), and its own Delta, if any,
// applies over that. The base may be incremental too: the sources form a chain down to a
// full archive. A source with a Ref did not change at all: it is the referenced backup's
// entry, and its archives are that backup's files. Each archive stays a plain tar (zstd or
// gzip compressed) readable by itself; only a restore needs the chain, applied oldest
// first (Store.Chain). Prune keeps every backup a kept one needs (Needs).

// MaxChain bounds how many links a chain may have: a manifest naming more (or a loop) is
// refused rather than followed.
const MaxChain = 1000

// Base is the backup an incremental source builds on.
type Base struct {
	// ID of the backup that holds the base.
	ID string `json:"id"`
	// Archive and SHA256 are the base source's first archive as that backup records it:
	// a chain link that does not match (another backup under that ID) is refused.
	Archive string `json:"archive"`
	SHA256  string `json:"sha256"`
	// Depth is how many incremental links lead from the last full archive to this one
	// (1: the base is full).
	Depth int `json:"depth"`
	// Deleted is how many paths the deletion list of this source's Archive names.
	Deleted int64 `json:"deleted"`
}

// holder is the ID of the backup whose directory holds src's files: id itself, or the
// backup src refers to.
func (s Source) holder(id string) string {
	if s.Ref != "" {
		return s.Ref
	}
	return id
}

// Depth is how many incremental links lead to s (0: s is full).
func (s Source) Depth() int {
	if s.Base == nil {
		return 0
	}
	return s.Base.Depth
}

// validateChains refuses a Base or Ref that does not name a backup by a plain ID, a Base
// without its archive, and a source that is both.
func (m *Manifest) validateChains() error {
	for _, s := range m.Sources {
		if s.Ref != "" && (!ValidID(s.Ref) || s.Ref == m.ID) {
			return fmt.Errorf("source %q: ref %q is no other backup's ID", s.Name, s.Ref)
		}
		if b := s.Base; b != nil {
			if !ValidID(b.ID) || b.ID == m.ID || plainFileName(b.Archive) != nil || b.SHA256 == "" || b.Depth < 1 || b.Depth > MaxChain || b.Deleted < 0 {
				return fmt.Errorf("source %q: base %+v is no backup's archive", s.Name, *b)
			}
		}
	}
	return nil
}

// Link is one step of a source's chain: the backup and the source as it records it.
type Link struct {
	Entry  Entry
	Source Source
}

// ErrBrokenChain is the error of a chain whose base is gone, damaged or another.
var ErrBrokenChain = errors.New("broken backup chain")

// Chain returns what a restore of src (a source of e) applies, oldest first: the full
// archive's link, then each incremental one, src's last. A base that is missing, not
// complete, lacks the source or holds another archive than recorded fails with
// ErrBrokenChain.
func (s Store) Chain(e Entry, src Source) ([]Link, error) {
	links := []Link{{Entry: e, Source: src}}
	cur := src
	for cur.Base != nil {
		if len(links) > MaxChain {
			return nil, fmt.Errorf("%w: source %s of backup %s: more than %d links", ErrBrokenChain, src.Name, e.ID, MaxChain)
		}
		b := cur.Base
		be, err := s.Get(e.project, b.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: source %s of backup %s builds on backup %s: %v", ErrBrokenChain, src.Name, e.ID, b.ID, err)
		}
		if err := be.CheckComplete(); err != nil {
			return nil, fmt.Errorf("%w: source %s of backup %s builds on %v", ErrBrokenChain, src.Name, e.ID, err)
		}
		// The base names its archive by the hash of the archive itself; a sealed copy of the
		// base (a remote's, fetched) records its ciphertext's hash and keeps that one as Plain.
		bs, ok := be.Manifest.Source(src.Name)
		if !ok || bs.Archive != b.Archive || (bs.SHA256 != b.SHA256 && bs.PlainSHA256() != b.SHA256) {
			return nil, fmt.Errorf("%w: source %s of backup %s builds on archive %s of backup %s, which that backup does not hold", ErrBrokenChain, src.Name, e.ID, b.Archive, b.ID)
		}
		links = append(links, Link{Entry: be, Source: bs})
		cur = bs
	}
	for i, j := 0, len(links)-1; i < j; i, j = i+1, j-1 {
		links[i], links[j] = links[j], links[i]
	}
	return links, nil
}

// Needs lists the other backups m's sources need: the bases of its incremental sources
// and the backups its unchanged sources refer to (one step each; a base's own needs are
// that backup's).
func (m *Manifest) Needs() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range m.Sources {
		for _, id := range []string{s.Ref, baseID(s.Base)} {
			if id != "" && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

func baseID(b *Base) string {
	if b == nil {
		return ""
	}
	return b.ID
}

// Referenced is the archive bytes of m's sources that other backups hold (Ref): what it
// uses without holding. OwnSize is what m's own directory holds.
func (m *Manifest) Referenced() int64 {
	var n int64
	for _, s := range m.Sources {
		if s.Ref == "" {
			continue
		}
		n += s.ArchiveSize
		if s.Delta != nil {
			n += s.Delta.ArchiveSize
		}
		if s.Index != nil {
			n += s.Index.Size
		}
	}
	return n
}

// OwnSize is the archive bytes m's own directory holds (Size less Referenced).
func (m *Manifest) OwnSize() int64 { return m.Size() - m.Referenced() }
