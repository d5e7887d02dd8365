package snapshot

import (
	"fmt"
	"slices"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// Incremental backups: a directory source's first pass (pass one of a two-pass backup, or
// the only pass) starts from the final index the newest complete backup of the same
// source kept (backup.Source.Index) and archives only what changed since, in the delta
// format (archive.WriteOptions.Since); the manifest records the base (backup.Base) and a
// restore applies the chain (Store.Chain). A source whose policy is changed and that did
// not change at all references the base's files instead (backup.Source.Ref).
//
// Exact under the two-pass condition (DESIGN.md, "Where each shortcut is exact"): the
// source's file system shows every change by a file's ctime (fsaccess.Inexact: the walk
// checks the root's, and the base's index records no one-pass reason), and the base's
// index describes this very tree (the same root device and inode: WriteTar archives the
// tree whole otherwise) as it was left with the services stopped (a --no-stop backup is
// no base: a process still mapping a file may write without moving its times). A file
// whose type, mode, size, owner, links, mtime, ctime, device and inode are what the base
// recorded, with a ctime from before the base's index began, has the base's content: any
// write since would have moved its ctime. Otherwise the source is taken whole (a full
// backup), and the result says why (BackupSource.Full).

// DefaultMaxDeltas is how many incremental backups of a source follow a full one before
// the next is full again (BackupOptions.MaxDeltas).
const DefaultMaxDeltas = 7

// incSource is one source's incremental state in a backup: its base (nil: taken whole,
// why says why when it could have been incremental) and the final index the last pass
// filled (for the changed policy's comparison).
type incSource struct {
	src   project.Source
	base  *incBase
	why   string
	final *archive.Index
}

// incBase is the backup an incremental source builds on: the entry, its source and the
// final index it kept.
type incBase struct {
	entry backup.Entry
	src   backup.Source
	idx   *archive.Index
}

func (inc *incSource) hasBase() bool { return inc != nil && inc.base != nil }

func (inc *incSource) setFinal(x *archive.Index) {
	if inc != nil && x != nil {
		inc.final = x
	}
}

// incrementalOf finds the base of src for the backup pl plans: nil for a source that is
// never incremental (a single file, a safety backup's); otherwise an incSource with a
// base, or without one and why (empty when no earlier backup holds the source). The
// project's backups are listed once per plan.
func (s *Service) incrementalOf(p *project.Project, src project.Source, pl *BackupPlan) *incSource {
	opts := pl.opts
	if !twoPass(src) || (opts.Reason != "manual" && opts.Reason != "upgrade") || opts.NoStop {
		return nil
	}
	inc := &incSource{src: src}
	switch {
	case opts.Full:
		inc.why = "--full"
		return inc
	case slices.ContainsFunc(opts.Excludes, func(x string) bool { return strings.HasPrefix(x, "!") }):
		inc.why = "an --exclude exception (!PATTERN) re-includes below an excluded directory"
		return inc
	}
	if pl.listed == nil {
		all, err := s.Store.List(p.Name)
		if err != nil {
			inc.why = "the backups could not be listed: " + err.Error()
			return inc
		}
		pl.listed = &all
	}
	all := *pl.listed
	for i := len(all) - 1; i >= 0; i-- {
		e := all[i]
		if e.Status != backup.StatusComplete || e.Owner != backup.OwnerThis {
			continue
		}
		if bs, ok := e.Manifest.Source(src.Name); ok {
			inc.base, inc.why = s.baseFrom(e, bs, src, opts)
			return inc
		}
	}
	return inc
}

// baseFrom checks that source bs of backup e can be src's base in a backup with opts.
func (s *Service) baseFrom(e backup.Entry, bs backup.Source, src project.Source, opts BackupOptions) (*incBase, string) {
	m := e.Manifest
	maxDeltas := opts.MaxDeltas // the flag, over the compose file's, over the default
	if maxDeltas <= 0 {
		maxDeltas = src.MaxDeltas
	}
	if maxDeltas <= 0 {
		maxDeltas = DefaultMaxDeltas
	}
	switch {
	case bs.Kind != src.Kind || bs.VolumeName != src.VolumeName || bs.HostPath != src.HostPath:
		return nil, "backup " + e.ID + " holds another " + string(src.Kind) + " under this name"
	case !m.Stopped:
		return nil, "backup " + e.ID + " was taken without stopping (--no-stop)"
	case m.Sealed() || len(s.Store.Seal) > 0:
		return nil, "encrypted backups are taken whole (the base's index would have to be decrypted, and an unchanged source's files are sealed to other recipients)"
	case m.Compression != string(opts.Compression):
		return nil, "backup " + e.ID + " is compressed with " + m.Compression
	case !slices.Equal(manifestExcludes(m), opts.Excludes):
		return nil, "backup " + e.ID + " was taken with other --exclude patterns"
	case bs.Index == nil:
		return nil, "backup " + e.ID + " kept no index of it"
	case bs.Depth() >= maxDeltas:
		return nil, fmt.Sprintf("%d incremental backups since the last full one (at most %d)", bs.Depth(), maxDeltas)
	}
	idx, err := s.Store.ReadIndex(e, bs)
	if err != nil {
		return nil, "the index of backup " + e.ID + " cannot be read: " + err.Error()
	}
	if idx.OnePass != "" {
		return nil, "backup " + e.ID + "'s index cannot decide alone what changed: " + idx.OnePass
	}
	return &incBase{entry: e, src: bs, idx: idx}, ""
}

// based records in bs, the first (or only) pass's result, that it is a delta over inc's
// base; or, when the pass wrote the tree whole, why it is full.
func (s *Service) based(bs *backup.Source, inc *incSource, st archive.Stats) {
	b := inc.base
	if st.Delta {
		bs.Base = &backup.Base{ID: b.entry.ID, Archive: b.src.Archive, SHA256: b.src.SHA256, Depth: b.src.Depth() + 1, Deleted: st.Deleted}
		return
	}
	inc.why = "the tree is not the one the index of backup " + b.entry.ID + " describes (another root device or inode), or its data path (" + s.dataPath() + ") records none"
	if st.OnePass != "" {
		inc.why = st.OnePass
	}
	inc.base = nil
	s.event(inc.src.Name + ": archived whole: " + inc.why)
}

// reuseUnchanged makes an incremental source whose policy is changed and that did not
// change since its base a reference to the base's files (backup.Source.Ref), removing what
// this backup wrote of it: its archives held no file and deleted nothing, and the final
// index equals the base's entry for entry (every directory, link and file as it was).
// Pass one's archive of a two-pass source is left to dropUnreferenced.
func (s *Service) reuseUnchanged(w *backup.Writer, bs backup.Source, inc *incSource) (backup.Source, error) {
	if bs.Policy != api.PolicyChanged || bs.Base == nil || !inc.hasBase() || inc.final == nil ||
		bs.Files != 0 || bs.Base.Deleted != 0 || (bs.Delta != nil && (bs.Delta.Files != 0 || bs.Delta.Deleted != 0)) ||
		!sameEntries(inc.final, inc.base.idx) {
		return bs, nil
	}
	var drop []string
	if bs.Delta != nil {
		drop = append(drop, bs.Delta.Archive)
	} else {
		drop = append(drop, bs.Archive)
	}
	if bs.Index != nil {
		drop = append(drop, bs.Index.File)
	}
	for _, name := range drop {
		if err := w.Remove(name); err != nil {
			return bs, fmt.Errorf("removing %s (unchanged: the base's files are used): %w", name, err)
		}
	}
	ref := inc.base.src
	ref.Source = bs.Source // as the project describes it now (mounts, policy)
	ref.Driver, ref.DriverOpts, ref.Labels = bs.Driver, bs.DriverOpts, bs.Labels
	if ref.Ref == "" {
		ref.Ref = inc.base.entry.ID
	}
	s.event(bs.Name + ": unchanged since backup " + inc.base.entry.ID + ": its archives are used (policy changed)")
	return ref, nil
}

// sameEntries tells whether two indexes hold the same paths with the same entries.
func sameEntries(a, b *archive.Index) bool {
	if len(a.Entries) != len(b.Entries) {
		return false
	}
	for p, e := range a.Entries {
		if f, ok := b.Entries[p]; !ok || f != e {
			return false
		}
	}
	return true
}
