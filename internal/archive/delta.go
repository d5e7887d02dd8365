package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// Two-pass backups.
//
// Pass one is WriteTar with WriteOptions.Record: a normal (hot) archive, while the index
// records what each path was when it was read (type and mode, size, mtime, ctime, device and
// inode) and when the pass began; before it reads a file system it writes back that file
// system's dirty pages, and a tree on (or holding) a file system where that does not make
// every later write move a ctime is marked one-pass (Index.OnePass, fsaccess.Inexact). Pass two is WriteTar with WriteOptions.Since set to that
// index, run once the data is quiet: it writes a delta archive holding
//
//   - a leading PAX global header with the record MAIM.delta=1 (Extract refuses such an
//     archive: pruning what it lacks would delete every unchanged file);
//   - every directory, symlink, fifo and device node of the tree (headers only, so their
//     modes, owners and mtimes are exact);
//   - every regular file that changed since pass one began: not in the index, another
//     inode, type, mode, size, mtime or ctime than recorded, an mtime or ctime at or after the pass's
//     start (less a margin for coarse file system clocks and same-second writes), or more than
//     one link (hardlink groups are always rewritten whole, so their links stay exact);
//   - trailing PAX global headers with the record MAIM.deleted: the paths the index has and
//     the tree no longer has, NUL separated, only the top-most of a removed tree and only
//     below a directory the delta holds.
//
// ApplyDelta applies such a delta over a directory that holds its base (Extract of pass
// one): writes what it holds, removes the deleted paths, sets the directories' metadata. A
// file untouched since before pass one began has the same content in the base (pass one read
// it after the start and after the write-back; any write since, through a shared mapping too,
// moved its ctime: fsaccess.Inexact), so base plus delta equals
// a cold archive of the final tree. With Index.OnePass set, pass two writes the whole tree
// instead (no delta header; Stats.OnePass repeats the reason), as it does for a root on such
// a file system.

// PAX records of delta archives.
const (
	paxDelta   = "MAIM.delta"
	paxDeleted = "MAIM.deleted"
)

// IndexEntry is what a pass saw of one path (treeindex.Entry).
type IndexEntry = treeindex.Entry

// Index is what pass one of a two-pass backup saw (WriteOptions.Record), or the final index
// of what an archive holds (WriteOptions.Final): treeindex.Index.
type Index = treeindex.Index

// NewIndex returns an empty index to pass as WriteOptions.Record or Final.
func NewIndex() *Index { return treeindex.New() }

// ReadIndex reads an index written by Index.WriteTo (treeindex.Read).
func ReadIndex(r io.Reader) (*Index, error) { return treeindex.Read(r) }

// deltaState is WriteTar's bookkeeping in delta mode (WriteOptions.Since).
type deltaState struct {
	since     *Index
	threshold int64
	seen      map[string]bool // path -> is a directory
}

// changed reports whether the regular file rel with entry e must be in the delta (the
// rule is treeindex's Index.Changed: fsaccess.MeasureSince applies it too).
func (d *deltaState) changed(rel string, now IndexEntry, nlink uint64) bool {
	return d.since.Changed(rel, now, nlink, d.threshold)
}

// deletions lists what the index has and the tree no longer has: only paths whose parent
// is a directory of the tree (a removed tree is named by its top; a path below something
// that is no longer a directory goes with it).
func (d *deltaState) deletions() []string {
	var out []string
	for p := range d.since.Entries {
		if p == "" {
			continue
		}
		if _, ok := d.seen[p]; ok {
			continue
		}
		parent, _ := split(p)
		if d.seen[parent] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// maxDeletedRecord bounds one MAIM.deleted record (archive/tar reads PAX headers up to 1 MiB).
const maxDeletedRecord = 256 << 10

// writeDeletions writes the deletion list as PAX global headers.
func (t *tarWriter) writeDeletions(list []string) error {
	for len(list) > 0 {
		n, size := 0, 0
		for n < len(list) && (n == 0 || size+len(list[n])+1 <= maxDeletedRecord) {
			size += len(list[n]) + 1
			n++
		}
		h := &tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", Format: tar.FormatPAX,
			PAXRecords: map[string]string{paxDeleted: strings.Join(list[:n], "\x00")}}
		if err := t.tw.WriteHeader(h); err != nil {
			return fmt.Errorf("archive: write deletion list: %w", err)
		}
		t.stats.Deleted += int64(n)
		list = list[n:]
	}
	return nil
}

// isDeltaHeader reports whether h is the global header that starts a delta archive.
func isDeltaHeader(h *tar.Header) bool {
	return h.Typeflag == tar.TypeXGlobalHeader && h.PAXRecords[paxDelta] == "1"
}

// deletedIn returns the paths a MAIM.deleted global header lists.
func deletedIn(h *tar.Header) []string {
	if h.Typeflag != tar.TypeXGlobalHeader {
		return nil
	}
	v, ok := h.PAXRecords[paxDeleted]
	if !ok || v == "" {
		return nil
	}
	return strings.Split(v, "\x00")
}

// ErrDelta is returned by Extract for a delta archive: applied alone it would delete every
// file that did not change; ApplyDelta applies it over its base.
var ErrDelta = errors.New("archive: this is the delta of a two-pass backup: apply it over its base (ApplyDelta)")
