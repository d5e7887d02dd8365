package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/docker-maim/docker-maim/internal/exclude"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/seektar"
)

// WriteOptions tune WriteTar.
type WriteOptions struct {
	// Excludes are .dockerignore patterns relative to root (exclude.Rules): an
	// excluded path is never archived. An excluded directory is skipped with all its
	// contents unless an exception ("!pattern") may re-include something below it;
	// then the walk enters it (without archiving it) and archives what is re-included.
	// Pass one of a two-pass backup (Record) that has to enter such a directory marks
	// the tree one-pass (Index.OnePass): a delta cannot name deletions below a
	// directory it does not hold. A bad pattern makes WriteTar fail before it writes.
	Excludes []string
	// Progress is called with content bytes as they are read.
	Progress func(n int64)
	// Warn, when set, is told about files that vanished or changed size while
	// being archived (hot backups). Such files never make WriteTar fail.
	Warn func(path string, err error)
	// Record, when set, is filled as pass one of a two-pass backup: its Start is set when
	// WriteTar begins and an entry is added for every path archived (see delta.go).
	Record *Index
	// Since, when set and the root is a directory, makes WriteTar write pass two: the delta
	// against this index of pass one (Stats.Delta tells). A regular-file root is archived
	// whole.
	Since *Index
	// Final, when set, is filled with the index of the tree as this archive (with its base,
	// for pass two) holds it: Start is set when WriteTar begins and an entry is added for
	// every path walked, archived or (pass two) left out as unchanged since Since. It is
	// the index a backup keeps for a differential restore or the next incremental backup.
	// Unlike Record it never stops the walk nor writes back dirty pages (the data is quiet:
	// pass two, or a one-pass backup taken stopped); Final.OnePass says why the index
	// cannot decide alone whether a file changed (a file system where a write may leave
	// every time as it was, fsaccess.Inexact; or the reason pass one gave). A regular-file
	// root records nothing.
	Final *Index
	// Beneath, when set, makes the root a single file confined to a directory at the moment
	// it is opened (see fsaccess.Beneath): a symlink swapped in on the way is followed only while it
	// stays beneath it, and anything but a regular file (a directory, a FIFO) is refused.
	Beneath *fsaccess.Beneath
}

const copyBufSize = 1 << 20

// WriteTar writes an uncompressed PAX tar of root to w. A directory root becomes entry "./"
// (carrying the root's own mode/owner/mtime) followed by "./a", "./a/b", ... in lexical order.
// A regular-file root becomes one entry named after its base name.
//
// A symlink given as root is followed (with opts.Beneath only while it stays beneath
// that directory); symlinks below root are archived as links. Files that vanish during the walk are skipped. A regular file whose
// size changes while it is read is written with exactly the size recorded in
// its header (zero-padded or truncated) and counted in Stats.Changed, so the
// archive stays valid. Sockets are skipped.
//
// When w is Compress's zstd writer (it has SetTrailer), WriteTar hands it the entry table
// (seektar: each entry's name and the uncompressed offset of its header), which it writes
// as a skippable frame before its seek table: the archive is then seekable.
func WriteTar(ctx context.Context, w io.Writer, root string, opts WriteOptions) (Stats, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	cnt := &offsetWriter{w: bw}
	tw := tar.NewWriter(cnt)
	wr := &tarWriter{
		ctx:   ctx,
		tw:    tw,
		raw:   cnt,
		cnt:   cnt,
		opts:  opts,
		buf:   make([]byte, copyBufSize),
		xlist: make([]byte, 4096),
		xval:  make([]byte, 4096),
		links: map[devIno]string{},
	}
	ex, err := exclude.New(opts.Excludes)
	if err != nil {
		return Stats{}, fmt.Errorf("archive: %w", err)
	}
	wr.ex = ex
	sink, seekable := w.(interface{ SetTrailer([]byte) })
	if seekable {
		wr.toc = &seektar.Builder{}
	}
	if opts.Record != nil {
		opts.Record.Start = time.Now()
		if opts.Record.Entries == nil {
			opts.Record.Entries = map[string]IndexEntry{}
		}
	}
	if opts.Final != nil {
		opts.Final.Start = time.Now()
		if opts.Final.Entries == nil {
			opts.Final.Entries = map[string]IndexEntry{}
		}
	}
	if err := wr.root(root); err != nil {
		return wr.stats, err
	}
	if wr.delta != nil {
		if err := wr.writeDeletions(wr.delta.deletions()); err != nil {
			return wr.stats, err
		}
	}
	if err := tw.Flush(); err != nil {
		return wr.stats, err
	}
	end := cnt.n
	if err := tw.Close(); err != nil {
		return wr.stats, err
	}
	if seekable {
		payload, err := wr.toc.Payload(end)
		if err != nil {
			return wr.stats, err
		}
		sink.SetTrailer(payload)
	}
	return wr.stats, bw.Flush()
}

// offsetWriter counts the uncompressed bytes of the tar (the offsets of the entry table).
type offsetWriter struct {
	w io.Writer
	n int64
}

func (c *offsetWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

type devIno struct{ dev, ino uint64 }

type tarWriter struct {
	ctx   context.Context
	tw    *tar.Writer
	raw   io.Writer // under tw: sparse entries are written here (sparse_unix.go)
	cnt   *offsetWriter
	toc   *seektar.Builder // the entry table, when w is zstdpar's seekable writer
	opts  WriteOptions
	stats Stats
	buf   []byte
	xlist []byte
	xval  []byte
	links map[devIno]string

	ex *exclude.Rules

	delta  *deltaState     // pass two of a two-pass backup, once the root is known to be a directory
	fsSeen map[uint64]bool // pass one: the file systems (devices) checked by checkFS
	finFS  map[uint64]bool // Final: the file systems checked by checkFS
}

// excluded reports whether rel (slash separated, no leading "./") is excluded
// (exclude.Rules.Match, exact for every path).
func (t *tarWriter) excluded(rel string) bool { return t.ex.Match(rel) }

func (t *tarWriter) warn(p string, err error) {
	if t.opts.Warn != nil {
		t.opts.Warn(p, err)
	}
}

func (t *tarWriter) write(h *tar.Header) error {
	if err := t.mark(h.Name); err != nil {
		return err
	}
	if err := t.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("archive: write header %q: %w", h.Name, err)
	}
	t.stats.Entries++
	return nil
}

// mark records in the entry table (when one is kept) that the entry name begins here: the
// previous entry's padding is written first, so the offset is its first header block's.
func (t *tarWriter) mark(name string) error {
	if err := t.tw.Flush(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if t.toc != nil {
		t.toc.Add(name, t.cnt.n)
	}
	return nil
}

// regular writes the header h of the regular file f (read from full) and
// exactly h.Size content bytes.
func (t *tarWriter) regular(f *os.File, full string, h *tar.Header) error {
	name := h.Name
	h.Typeflag = tar.TypeReg
	if err := t.write(h); err != nil {
		return err
	}
	t.stats.Files++
	remain := h.Size
	changed := false
	for remain > 0 {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		b := t.buf
		if int64(len(b)) > remain {
			b = b[:remain]
		}
		n, rerr := io.ReadFull(f, b)
		if n > 0 {
			if _, err := t.tw.Write(b[:n]); err != nil {
				return fmt.Errorf("archive: write %q: %w", name, err)
			}
			remain -= int64(n)
			t.stats.Bytes += int64(n)
			if t.opts.Progress != nil {
				t.opts.Progress(int64(n))
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			// The file shrank: pad with zeros to the size in the header.
			changed = true
			clear(t.buf)
			for remain > 0 {
				z := t.buf
				if int64(len(z)) > remain {
					z = z[:remain]
				}
				if _, err := t.tw.Write(z); err != nil {
					return fmt.Errorf("archive: write %q: %w", name, err)
				}
				remain -= int64(len(z))
				t.stats.Bytes += int64(len(z))
			}
			break
		}
		if rerr != nil {
			return &os.PathError{Op: "read", Path: full, Err: rerr}
		}
	}
	if !changed {
		// Did the file grow? One byte more than the header size means yes.
		if n, _ := f.Read(t.buf[:1]); n > 0 {
			changed = true
		}
	}
	if changed {
		t.stats.Changed++
		t.warn(full, errors.New("file changed size while being archived"))
	}
	return nil
}
