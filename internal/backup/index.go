package backup

import (
	"io"

	"github.com/docker-maim/docker-maim/internal/archive"
)

// Index is the file of a backup that holds a directory source's final index: what each
// path of the tree was (type and mode, size, owner, mtime, ctime, device, inode, links)
// when the backup last read it, pass two's view for a two-pass source (pass one's entries,
// those pass two rewrote or found gone updated), in archive.ReadIndex's versioned format.
// A differential restore compares the target with it to rewrite only what differs; an
// incremental backup starts from it. It is optional: a backup without one restores whole.
type Index struct {
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	Entries int64  `json:"entries"` // paths it holds, the root included
	// Plain is the index file before it was sealed (a sealed backup's; nil when plain).
	Plain *Plain `json:"plain,omitempty"`
}

// IndexName is the name of the index file of the source whose archive base name is base
// (project.ArchiveBase).
func IndexName(base string) string { return base + ".index.zst" }

// IndexSource is the index file of s as a Source whose Archive, hash and size are the
// index's (to open, stat and hash it as an archive).
func (s Source) IndexSource() Source {
	d := s
	d.Delta, d.Index = nil, nil
	d.Archive, d.SHA256, d.ArchiveSize = s.Index.File, s.Index.SHA256, s.Index.Size
	d.Bytes, d.Files, d.Entries = 0, 0, s.Index.Entries
	d.Plain = s.Index.Plain
	return d
}

// ReadIndex reads the final index of src from backup e: its hash and size must be the
// manifest's and its entry count too; nil, nil when the source has none.
func (s Store) ReadIndex(e Entry, src Source) (*archive.Index, error) {
	if err := e.CheckComplete(); err != nil {
		return nil, err
	}
	if src.Index == nil {
		return nil, nil
	}
	return readIndex(e, src, nil)
}

// readIndex reads and checks src's index (Verify and ReadIndex).
func readIndex(e Entry, src Source, progress func(Source, int64)) (*archive.Index, error) {
	is := src.IndexSource()
	fail := failure(e, is)
	var x *archive.Index
	err := readArchive(e, is, progress, func(r io.Reader) error {
		var err error
		if x, err = archive.ReadIndex(r); err != nil {
			return fail("%v", err)
		}
		if int64(len(x.Entries)) != src.Index.Entries {
			return fail("holds %d entries; manifest says %d", len(x.Entries), src.Index.Entries)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}
