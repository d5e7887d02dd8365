// Package archive owns docker-maim's archive format: a standard PAX tar of a
// directory or a single file, optionally compressed with zstd or gzip.
//
// The format is deliberately plain so that `tar --zstd -xf` and `tar xzf` can
// read every backup without docker-maim:
//
//   - A directory is archived as the entry "./" (the root's own mode, owner,
//     mtime and xattrs) followed by "./a", "./a/b", ... in lexical order
//     (depth first, children sorted by byte value). Directory names end in "/".
//   - A single regular file is archived as one entry named after its base name.
//   - Mode (including setuid/setgid/sticky), numeric uid/gid, mtime with
//     nanoseconds, symlink targets (verbatim), hardlinks (TypeLink, detected by
//     device+inode), fifos and device nodes, and extended attributes
//     (PAX SCHILY.xattr.*) are recorded. Sockets are skipped.
//   - A regular file with holes is a GNU sparse 1.0 entry (PAX GNU.sparse.*): its data
//     extents only; Extract writes it with holes (sparse_unix.go).
//
// A zstd stream is written as a sequence of complete frames, one per MiB of tar, compressed
// on all cores with a fixed set of buffers (see internal/zstdpar); `zstd -d` and every other
// decoder read a sequence of frames as one stream.
//
// Extract makes a destination exactly equal to an archive and refuses hostile
// entries with *UnsafeEntryError; Scan reads and validates a whole archive. On Linux and
// macOS Extract writes small regular files on a few writer goroutines while it reads on
// (batched by directory, content in flight bounded; see extract_pool_unix.go).
//
// Two-pass backups (delta.go): WriteTar with WriteOptions.Record archives a tree while it
// changes and records an Index of what it read; WriteTar with WriteOptions.Since writes the
// delta since then (changed files, all directories and links, a deletion list in PAX global
// headers); ApplyDelta applies it over the extracted base, with a result equal to a cold
// archive's where every file system of the tree shows each change by a file's times
// (fsaccess.Inexact); elsewhere pass two writes the whole tree (Stats.OnePass says why).
// Extract refuses a delta (ErrDelta).
package archive

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/docker-maim/docker-maim/internal/zstdpar"
)

// Compression names a stream codec wrapped around the tar.
type Compression string

// The supported codecs.
const (
	Zstd Compression = "zstd"
	Gzip Compression = "gzip"
	None Compression = "none"
)

// DefaultZstdLevel is the zstd level used when Compress is called with level 0:
// the fastest level, comparable to `zstd -1`; backups are I/O and time bound.
const DefaultZstdLevel = 1

// DefaultGzipLevel is the gzip level used when Compress is called with level 0.
const DefaultGzipLevel = gzip.BestSpeed

// ParseCompression accepts "zstd", "gzip" (or "gz"), "none" (or "" / "tar").
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "zstd", "zst":
		return Zstd, nil
	case "gzip", "gz":
		return Gzip, nil
	case "none", "tar", "":
		return None, nil
	}
	return "", fmt.Errorf("unknown compression %q (want zstd, gzip or none)", s)
}

// Ext returns the file name extension of an archive with this codec.
func (c Compression) Ext() string {
	switch c {
	case Zstd:
		return ".tar.zst"
	case Gzip:
		return ".tar.gz"
	}
	return ".tar"
}

// DetectCompression guesses the codec from a file name's extension
// (.tar.zst/.tzst/.zst, .tar.gz/.tgz/.gz); anything else is None.
func DetectCompression(name string) Compression {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".zst"), strings.HasSuffix(n, ".tzst"), strings.HasSuffix(n, ".zstd"):
		return Zstd
	case strings.HasSuffix(n, ".gz"), strings.HasSuffix(n, ".tgz"):
		return Gzip
	}
	return None
}

// zstdConcurrency caps the encoder goroutines so that memory stays bounded on
// machines with many cores (each job holds a few windows of input).
func zstdConcurrency() int {
	n := runtime.GOMAXPROCS(0)
	if n > 8 {
		n = 8
	}
	if n < 1 {
		n = 1
	}
	return n
}

// Compress wraps w with the codec c. level 0 selects the codec default
// (zstd: DefaultZstdLevel, gzip: DefaultGzipLevel); zstd levels follow the
// zstd command line (mapped with zstd.EncoderLevelFromZstd), gzip levels are
// 1..9. The returned writer must be closed to flush the stream; closing it
// does not close w.
func Compress(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case Zstd:
		if level == 0 {
			level = DefaultZstdLevel
		}
		if level < 1 || level > 22 {
			return nil, fmt.Errorf("zstd level %d out of range 1..22", level)
		}
		return zstdpar.NewWriter(w, zstd.EncoderLevelFromZstd(level), zstdConcurrency())
	case Gzip:
		if level == 0 {
			level = DefaultGzipLevel
		}
		if level < 1 || level > 9 {
			return nil, fmt.Errorf("gzip level %d out of range 1..9", level)
		}
		return gzip.NewWriterLevel(w, level)
	case None, "":
		return nopWriteCloser{bufio.NewWriterSize(w, 256<<10)}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", string(c))
}

type nopWriteCloser struct{ b *bufio.Writer }

func (n nopWriteCloser) Write(p []byte) (int, error) { return n.b.Write(p) }
func (n nopWriteCloser) Close() error                { return n.b.Flush() }

// Decompress returns a reader of the uncompressed stream. Checksums embedded
// in the stream (zstd frame checksum, gzip CRC32) are verified when the
// stream is read to its end; a truncated stream reports an error, never a
// silent EOF. Closing the reader does not close r.
func Decompress(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case Zstd:
		d, err := zstd.NewReader(r,
			zstd.WithDecoderConcurrency(2),
			zstd.WithDecoderMaxWindow(1<<30),
		)
		if err != nil {
			return nil, err
		}
		return zstdReadCloser{d}, nil
	case Gzip:
		z, err := gzip.NewReader(bufio.NewReaderSize(r, 256<<10))
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return z, nil
	case None, "":
		return io.NopCloser(r), nil
	}
	return nil, fmt.Errorf("unknown compression %q", string(c))
}

type zstdReadCloser struct{ d *zstd.Decoder }

func (z zstdReadCloser) Read(p []byte) (int, error) { return z.d.Read(p) }
func (z zstdReadCloser) Close() error               { z.d.Close(); return nil }

// Stats counts what WriteTar wrote or Extract/Scan read.
type Stats struct {
	Entries int64 // tar entries written/read (dirs, files, links, ...) incl. the root entry
	Files   int64 // regular files
	Bytes   int64 // sum of regular file contents
	// Changed counts regular files whose size changed while WriteTar read
	// them (a hot backup). The archive stays valid: the entry holds exactly
	// the size recorded in its header, zero-padded if the file shrank,
	// truncated if it grew. Always 0 for Extract and Scan.
	Changed int64
	// Delta is set when the archive is the delta of a two-pass backup (WriteTar with
	// WriteOptions.Since over a directory; Scan and ApplyDelta of such an archive); Deleted
	// counts the paths its deletion list names.
	Delta   bool  `json:",omitempty"`
	Deleted int64 `json:",omitempty"`
	// OnePass is set by pass two of a two-pass backup (WriteOptions.Since) that archived the
	// tree whole instead of a delta: why pass one's index cannot tell every change.
	OnePass string `json:",omitempty"`
}

// UnsafeEntryError reports an archive entry that Extract or Scan refuses:
// a ".." component, an absolute path, a path leading through a symlink (or
// other non-directory) of the archive, a hardlink whose target is outside or
// not yet extracted, or a device node when devices are not allowed.
type UnsafeEntryError struct {
	Name   string // the entry name as stored in the archive
	Reason string
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("unsafe archive entry %q: %s", e.Name, e.Reason)
}
