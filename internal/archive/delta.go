package archive

import (
	"archive/tar"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
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

// ctimeMargin is subtracted from pass one's start (first truncated to the second) to get
// the ctime from which a file counts as changed: file system clocks are coarse (a jiffy
// behind the wall clock, whole seconds or two on some file systems).
const ctimeMargin = 2 * time.Second

// IndexEntry is what pass one saw of one path.
type IndexEntry struct {
	Mode  uint32 // file type and permission bits as stat reports them
	Size  int64
	Mtime int64 // ns since the epoch
	Ctime int64 // ns since the epoch
	Dev   uint64
	Ino   uint64
}

// Index is what pass one of a two-pass backup saw: the paths it archived (relative, slash
// separated, "" for the root) and when it began, by the clock of the machine holding the
// data.
type Index struct {
	Start   time.Time
	Entries map[string]IndexEntry
	// OnePass, when set, says why the tree cannot be taken in two passes exactly (see
	// fsaccess.Inexact): pass two then archives it whole.
	OnePass string
}

// NewIndex returns an empty index to pass as WriteOptions.Record.
func NewIndex() *Index { return &Index{Entries: map[string]IndexEntry{}} }

// threshold is the ctime (ns) from which a file counts as changed since pass one began.
func (x *Index) threshold() int64 {
	return x.Start.Truncate(time.Second).Add(-ctimeMargin).UnixNano()
}

const indexMagic = "MAIMIDX2"

// WriteTo writes the index in a compact binary form (zstd compressed) that ReadIndex reads.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	cw, err := Compress(w, Zstd, 0)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(cw, 64<<10)
	buf := make([]byte, 0, 8*binary.MaxVarintLen64)
	bw.WriteString(indexMagic)
	buf = binary.AppendVarint(buf[:0], x.Start.UnixNano())
	buf = binary.AppendUvarint(buf, uint64(len(x.OnePass)))
	bw.Write(buf)
	bw.WriteString(x.OnePass)
	buf = binary.AppendUvarint(buf[:0], uint64(len(x.Entries)))
	bw.Write(buf)
	for p, e := range x.Entries {
		buf = binary.AppendUvarint(buf[:0], uint64(len(p)))
		bw.Write(buf)
		bw.WriteString(p)
		buf = binary.AppendUvarint(buf[:0], uint64(e.Mode))
		buf = binary.AppendVarint(buf, e.Size)
		buf = binary.AppendVarint(buf, e.Mtime)
		buf = binary.AppendVarint(buf, e.Ctime)
		buf = binary.AppendUvarint(buf, e.Dev)
		buf = binary.AppendUvarint(buf, e.Ino)
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		cw.Close()
		return 0, err
	}
	return 0, cw.Close()
}

// ReadIndex reads an index written by Index.WriteTo.
func ReadIndex(r io.Reader) (*Index, error) {
	dr, err := Decompress(r, Zstd)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	br := bufio.NewReaderSize(dr, 64<<10)
	bad := func(err error) (*Index, error) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("archive: reading index: %w", err)
	}
	magic := make([]byte, len(indexMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return bad(err)
	}
	if string(magic) != indexMagic {
		return nil, errors.New("archive: not an index")
	}
	start, err := binary.ReadVarint(br)
	if err != nil {
		return bad(err)
	}
	rl, err := binary.ReadUvarint(br)
	if err != nil {
		return bad(err)
	}
	if rl > 1<<16 {
		return nil, errors.New("archive: reading index: one-pass reason too long")
	}
	reason := make([]byte, rl)
	if _, err := io.ReadFull(br, reason); err != nil {
		return bad(err)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return bad(err)
	}
	x := &Index{Start: time.Unix(0, start), OnePass: string(reason), Entries: make(map[string]IndexEntry, min(n, 1<<20))}
	var name []byte
	for i := uint64(0); i < n; i++ {
		l, err := binary.ReadUvarint(br)
		if err != nil {
			return bad(err)
		}
		if l > 1<<16 {
			return nil, errors.New("archive: reading index: path too long")
		}
		name = append(name[:0], make([]byte, l)...)
		if _, err := io.ReadFull(br, name); err != nil {
			return bad(err)
		}
		var e IndexEntry
		var u uint64
		if u, err = binary.ReadUvarint(br); err != nil {
			return bad(err)
		}
		e.Mode = uint32(u)
		for _, p := range []*int64{&e.Size, &e.Mtime, &e.Ctime} {
			if *p, err = binary.ReadVarint(br); err != nil {
				return bad(err)
			}
		}
		for _, p := range []*uint64{&e.Dev, &e.Ino} {
			if *p, err = binary.ReadUvarint(br); err != nil {
				return bad(err)
			}
		}
		x.Entries[string(name)] = e
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return bad(err)
	}
	return x, nil
}

// deltaState is WriteTar's bookkeeping in delta mode (WriteOptions.Since).
type deltaState struct {
	since     *Index
	threshold int64
	seen      map[string]bool // path -> is a directory
}

// changed reports whether the regular file rel with entry e must be in the delta.
func (d *deltaState) changed(rel string, now IndexEntry, nlink uint64) bool {
	was, ok := d.since.Entries[rel]
	return !ok || nlink > 1 || was != now || now.Ctime >= d.threshold || now.Mtime >= d.threshold
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
