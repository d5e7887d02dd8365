// Package treeindex is the index of a directory tree: what each path was (type and mode,
// size, owner, mtime, ctime, device, inode, links) when a backup read it, and the versioned
// file format it is kept in. Two-pass backups hand pass one's index to pass two; a backup
// keeps the final one beside a directory source's archives, for a differential restore and
// the next incremental backup.
package treeindex

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The index file format, version 3 (what Index.WriteTo writes and Read reads: the
// index a two-pass backup hands from pass one to pass two, and the final index a backup
// keeps beside a directory source's archives as NAME.index.zst, backup.Source.Index).
//
// The file is a zstd stream (any number of frames) of:
//
//	magic     8 bytes "MAIMIDX3"
//	start     varint: ns since the epoch, when the pass that read the tree began
//	reason    uvarint length (<= 64 KiB) + bytes: Index.OnePass, empty when exact
//	count     uvarint: number of entries (<= maxIndexEntries)
//	entries   count times, paths in strictly ascending byte order (so no duplicates):
//	            path  uvarint length (<= 64 KiB) + bytes: slash separated, relative,
//	                  "" for the root, no "." or ".." component, no empty component, no NUL
//	            mode  uvarint (stat's st_mode: file type and permission bits, < 2^32)
//	            size, mtime, ctime          varint (ns since the epoch for the times)
//	            dev, ino                    uvarint
//	            uid, gid, nlink             uvarint (< 2^32)
//
// and nothing after the last entry. Read refuses anything else (another magic, a
// length over its bound, a path that is not clean, paths out of order or repeated, a
// negative size, trailing bytes): an index decides which files a differential restore
// leaves untouched, so a damaged or forged one must fail rather than be half believed.

const indexMagic = "MAIMIDX3"

// CtimeMargin is subtracted from an index's Start (first truncated to the second) to get the
// ctime from which a file counts as changed since (Index.Threshold): file system clocks are
// coarse (a jiffy behind the wall clock, whole seconds or two on some file systems).
const CtimeMargin = 2 * time.Second

// Entry is what a pass saw of one path.
type Entry struct {
	Mode  uint32 // file type and permission bits as stat reports them
	Size  int64
	Mtime int64 // ns since the epoch
	Ctime int64 // ns since the epoch
	Dev   uint64
	Ino   uint64
	Uid   uint32
	Gid   uint32
	Nlink uint32 // links to the inode
}

// Index is what a pass over a tree saw: the paths it read (relative, slash separated, ""
// for the root) and when it began, by the clock of the machine holding the data.
type Index struct {
	Start   time.Time
	Entries map[string]Entry
	// OnePass, when set, says why the index cannot tell alone whether a file changed since
	// (see fsaccess.Inexact): pass two then archives the tree whole, a restore extracts it
	// whole.
	OnePass string
}

// New returns an empty index.
func New() *Index { return &Index{Entries: map[string]Entry{}} }

// Changed is the rule of a delta over x (an incremental backup's first pass, a two-pass
// backup's second): whether the regular file rel, whose lstat now is with nlink links,
// must be archived again: x does not have it as it is now, it has several links (hardlink
// groups are rewritten whole), or its mtime or ctime is at or after threshold
// (x.Threshold(), passed in as the walk computes it once).
func (x *Index) Changed(rel string, now Entry, nlink uint64, threshold int64) bool {
	was, ok := x.Entries[rel]
	return !ok || nlink > 1 || was != now || now.Ctime >= threshold || now.Mtime >= threshold
}

// Threshold is the ctime (ns) from which a file counts as changed since the pass began: a
// file whose mtime or ctime is at or after it may have been written in the same clock tick
// as it was read.
func (x *Index) Threshold() int64 {
	return x.Start.Truncate(time.Second).Add(-CtimeMargin).UnixNano()
}

// Bounds ReadIndex enforces.
const (
	maxIndexEntries = 1 << 28
	maxIndexString  = 1 << 16
	// maxIndexWindow bounds the zstd window the index reader accepts (the writer's frames
	// are 1 MiB): a forged frame header cannot make it allocate more.
	maxIndexWindow = 8 << 20
)

// WriteTo writes the index in the version 3 format above (zstd compressed), paths sorted, so
// the same index always gives the same bytes. The count returned is 0.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	cw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(cw, 64<<10)
	buf := make([]byte, 0, 12*binary.MaxVarintLen64)
	bw.WriteString(indexMagic)
	buf = binary.AppendVarint(buf[:0], x.Start.UnixNano())
	buf = binary.AppendUvarint(buf, uint64(len(x.OnePass)))
	bw.Write(buf)
	bw.WriteString(x.OnePass)
	buf = binary.AppendUvarint(buf[:0], uint64(len(x.Entries)))
	bw.Write(buf)
	for _, p := range x.Paths() {
		e := x.Entries[p]
		buf = binary.AppendUvarint(buf[:0], uint64(len(p)))
		bw.Write(buf)
		bw.WriteString(p)
		buf = binary.AppendUvarint(buf[:0], uint64(e.Mode))
		buf = binary.AppendVarint(buf, e.Size)
		buf = binary.AppendVarint(buf, e.Mtime)
		buf = binary.AppendVarint(buf, e.Ctime)
		buf = binary.AppendUvarint(buf, e.Dev)
		buf = binary.AppendUvarint(buf, e.Ino)
		buf = binary.AppendUvarint(buf, uint64(e.Uid))
		buf = binary.AppendUvarint(buf, uint64(e.Gid))
		buf = binary.AppendUvarint(buf, uint64(e.Nlink))
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		cw.Close()
		return 0, err
	}
	return 0, cw.Close()
}

// Paths returns the index's paths in ascending byte order (the root "" first).
func (x *Index) Paths() []string {
	out := make([]string, 0, len(x.Entries))
	for p := range x.Entries {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Read reads an index written by Index.WriteTo, refusing anything that is not one (see
// the format above).
func Read(r io.Reader) (*Index, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxIndexWindow))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ir := &indexReader{br: bufio.NewReaderSize(d, 64<<10)}
	x, err := ir.read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading index: %w", err)
	}
	return x, nil
}

type indexReader struct {
	br *bufio.Reader
}

func (ir *indexReader) uvarint(max uint64, what string) (uint64, error) {
	u, err := binary.ReadUvarint(ir.br)
	if err != nil {
		return 0, err
	}
	if u > max {
		return 0, fmt.Errorf("%s %d out of range", what, u)
	}
	return u, nil
}

func (ir *indexReader) str(what string) (string, error) {
	n, err := ir.uvarint(maxIndexString, what+" length")
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(ir.br, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func (ir *indexReader) read() (*Index, error) {
	magic := make([]byte, len(indexMagic))
	if _, err := io.ReadFull(ir.br, magic); err != nil {
		return nil, err
	}
	if string(magic) != indexMagic {
		return nil, errors.New("not an index (or another version of the format)")
	}
	start, err := binary.ReadVarint(ir.br)
	if err != nil {
		return nil, err
	}
	reason, err := ir.str("one-pass reason")
	if err != nil {
		return nil, err
	}
	n, err := ir.uvarint(maxIndexEntries, "entry count")
	if err != nil {
		return nil, err
	}
	x := &Index{Start: time.Unix(0, start), OnePass: reason, Entries: make(map[string]Entry, min(n, 1<<16))}
	prev := ""
	for i := uint64(0); i < n; i++ {
		p, err := ir.str("path")
		if err != nil {
			return nil, err
		}
		if i > 0 && p <= prev {
			return nil, fmt.Errorf("path %q out of order or repeated", p)
		}
		if !cleanIndexPath(p) {
			return nil, fmt.Errorf("path %q is not a clean relative path", p)
		}
		prev = p
		e, err := ir.entry()
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", p, err)
		}
		x.Entries[p] = e
	}
	if _, err := ir.br.ReadByte(); err != io.EOF {
		if err == nil {
			err = errors.New("bytes after the last entry")
		}
		return nil, err
	}
	return x, nil
}

func (ir *indexReader) entry() (Entry, error) {
	var e Entry
	u, err := ir.uvarint(1<<32-1, "mode")
	if err != nil {
		return e, err
	}
	e.Mode = uint32(u)
	for _, p := range []*int64{&e.Size, &e.Mtime, &e.Ctime} {
		if *p, err = binary.ReadVarint(ir.br); err != nil {
			return e, err
		}
	}
	if e.Size < 0 {
		return e, fmt.Errorf("negative size %d", e.Size)
	}
	for _, p := range []*uint64{&e.Dev, &e.Ino} {
		if *p, err = binary.ReadUvarint(ir.br); err != nil {
			return e, err
		}
	}
	for _, p := range []*uint32{&e.Uid, &e.Gid, &e.Nlink} {
		if u, err = ir.uvarint(1<<32-1, "uid/gid/nlink"); err != nil {
			return e, err
		}
		*p = uint32(u)
	}
	return e, nil
}

// cleanIndexPath reports whether p is "" (the root) or a slash-separated relative path with
// no empty, "." or ".." component and no NUL byte.
func cleanIndexPath(p string) bool {
	if p == "" {
		return true
	}
	if strings.IndexByte(p, 0) >= 0 {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}
