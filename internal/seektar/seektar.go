// Package seektar is random access to docker-maim's tar.zst archives: the entry table an
// archive carries (each tar entry's name and the uncompressed offset of its header, written
// by archive.WriteTar into a zstd skippable frame right before the seek table of
// zstdpar's seekable format), and a reader that opens one entry by that offset, reading and
// decompressing only the frames that hold it.
//
// Neither frame changes what the archive is to anything else: zstd decoders skip skippable
// frames, so `zstd -d`, `tar --zstd` and archive.Decompress read the tar as before. An archive
// without them (gzip, none, an older build's zstd) is simply not seekable (Open fails with
// ErrNotSeekable) and is read whole.
//
// The entry table's payload, version 1:
//
//	magic   8 bytes "MAIMTOC1"
//	body    one zstd frame (window <= 8 MiB) of:
//	          count   uvarint
//	          count times, in archive order (offsets strictly ascending):
//	            shared  uvarint: bytes the name shares with the previous name
//	            suffix  uvarint length (<= 64 KiB) + bytes: the rest of the name
//	            delta   uvarint: offset minus the previous offset (the first: the offset)
//	          end     uvarint: offset of the archive's end marker minus the last offset
//	length  4 bytes little endian: the payload's length, these 4 bytes included
//
// The offset of an entry is where its first header block begins (its PAX extended header,
// when it has one), so a tar reader started there reads exactly that entry. The trailing
// length lets a reader find the frame from the end of the file, as the seek table is found.
package seektar

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	seekable "github.com/SaveTheRbtz/zstd-seekable-format-go/pkg"
	"github.com/klauspost/compress/zstd"

	"github.com/docker-maim/docker-maim/internal/zstdpar"
)

const (
	tocMagic   = "MAIMTOC1"
	maxName    = 1 << 16
	maxWindow  = 8 << 20
	footerSize = 9       // the seek table's footer: frames (4), descriptor (1), magic (4)
	maxTOC     = 1 << 30 // an entry table larger than this is refused, not allocated
	// maxFrame is the largest frame, decompressed, a seek table may list and the decoder
	// will produce: zstdpar writes 1 MiB frames. A frame is decompressed whole into memory,
	// so without it a few KiB of hostile frame could ask for gigabytes.
	maxFrame = maxWindow
)

// ErrNotSeekable is returned by Open for an archive without a seek table or entry table.
var ErrNotSeekable = errors.New("seektar: the archive has no seek table and entry table")

// Builder collects the entry table while an archive is written. Names are front coded as
// they are added, so it holds a few bytes per entry.
type Builder struct {
	body  bytes.Buffer
	n     uint64
	prev  string
	last  int64
	tmp   []byte
	began bool
}

// Add records that the entry name's header begins at uncompressed offset off (offsets must
// grow).
func (b *Builder) Add(name string, off int64) {
	shared := 0
	for shared < len(name) && shared < len(b.prev) && name[shared] == b.prev[shared] {
		shared++
	}
	b.tmp = binary.AppendUvarint(b.tmp[:0], uint64(shared))
	b.tmp = binary.AppendUvarint(b.tmp, uint64(len(name)-shared))
	b.body.Write(b.tmp)
	b.body.WriteString(name[shared:])
	b.tmp = binary.AppendUvarint(b.tmp[:0], uint64(off-b.last))
	b.body.Write(b.tmp)
	b.prev, b.last, b.began = name, off, true
	b.n++
}

// Payload returns the entry table's payload (the format above); end is the offset of the
// archive's end marker.
func (b *Builder) Payload(end int64) ([]byte, error) {
	raw := binary.AppendUvarint(nil, b.n)
	raw = append(raw, b.body.Bytes()...)
	raw = binary.AppendUvarint(raw, uint64(end-b.last))
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		return nil, err
	}
	out := append([]byte(tocMagic), enc.EncodeAll(raw, nil)...)
	enc.Close()
	return binary.LittleEndian.AppendUint32(out, uint32(len(out)+4)), nil
}

// Archive is an open seekable archive.
type Archive struct {
	r    *seekable.Reader
	dec  *zstd.Decoder
	size int64  // uncompressed
	toc  []byte // the entry table's compressed body
}

// Open opens the seekable archive ra of size bytes (the file as the backup holds it). A seek
// table whose frames end past the entry table, or that lists a frame over 8 MiB
// decompressed, is refused; a frame that decompresses to more than that fails its read.
func Open(ra io.ReaderAt, size int64) (*Archive, error) {
	tocOff, toc, err := findTOC(ra, size)
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow),
		zstd.WithDecoderMaxMemory(maxFrame))
	if err != nil {
		return nil, err
	}
	r, err := seekable.NewReader(io.NewSectionReader(ra, 0, size), dec)
	if err != nil {
		dec.Close()
		return nil, fmt.Errorf("%w: %v", ErrNotSeekable, err)
	}
	table, _ := r.SeekTable()
	if err := checkTable(table, tocOff); err != nil {
		r.Close()
		dec.Close()
		return nil, err
	}
	return &Archive{r: r, dec: dec, size: int64(table.Size()), toc: toc}, nil
}

// checkTable refuses a seek table whose frames end past the entry table at tocOff or
// that lists a frame larger than maxFrame decompressed.
func checkTable(table seekable.SeekTable, tocOff int64) error {
	var dataEnd uint64
	for i := range table.NumFrames() {
		e, _ := table.EntryByID(i)
		if e.DecompressedSize > maxFrame {
			return fmt.Errorf("seektar: the seek table's frame %d holds %d bytes, more than %d", i, e.DecompressedSize, maxFrame)
		}
		dataEnd = e.CompressedOffset + uint64(e.CompressedSize)
	}
	if dataEnd > uint64(tocOff) {
		return fmt.Errorf("seektar: the seek table's frames end at %d, past the entry table at %d", dataEnd, tocOff)
	}
	return nil
}

// findTOC locates the entry table frame from the end of the file: the seek table's footer
// gives its length, the 4 bytes before it the entry table's.
func findTOC(ra io.ReaderAt, size int64) (int64, []byte, error) {
	var foot [footerSize]byte
	if size < footerSize+8 {
		return 0, nil, ErrNotSeekable
	}
	if _, err := ra.ReadAt(foot[:], size-footerSize); err != nil {
		return 0, nil, err
	}
	if binary.LittleEndian.Uint32(foot[5:]) != 0x8F92EAB1 {
		return 0, nil, ErrNotSeekable
	}
	entry := int64(8)
	if foot[4]&0x80 != 0 {
		entry = 12
	}
	seekStart := size - (8 + int64(binary.LittleEndian.Uint32(foot[:4]))*entry + footerSize)
	if seekStart < 12 {
		return 0, nil, ErrNotSeekable
	}
	var l [4]byte
	if _, err := ra.ReadAt(l[:], seekStart-4); err != nil {
		return 0, nil, err
	}
	plen := int64(binary.LittleEndian.Uint32(l[:]))
	start := seekStart - 8 - plen
	if plen < int64(len(tocMagic))+4 || start < 0 || plen > maxTOC {
		return 0, nil, ErrNotSeekable
	}
	buf := make([]byte, 8+plen)
	if _, err := ra.ReadAt(buf, start); err != nil {
		return 0, nil, err
	}
	if binary.LittleEndian.Uint32(buf) != zstdpar.TrailerMagic || int64(binary.LittleEndian.Uint32(buf[4:])) != plen ||
		string(buf[8:8+len(tocMagic)]) != tocMagic {
		return 0, nil, ErrNotSeekable
	}
	return start, buf[8+len(tocMagic) : len(buf)-4], nil
}

// Close releases the archive's decoder (not the ReaderAt).
func (a *Archive) Close() error {
	err := a.r.Close()
	a.dec.Close()
	return err
}

// Size is the archive's uncompressed size.
func (a *Archive) Size() int64 { return a.size }

// Entries calls fn with each entry's name and header offset, in archive order, until fn
// returns false. A damaged table (offsets out of order or past the archive, a name over
// 64 KiB, anything left over) is an error.
func (a *Archive) Entries(fn func(name string, off int64) bool) error {
	d, err := zstd.NewReader(bytes.NewReader(a.toc), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
	if err != nil {
		return err
	}
	defer d.Close()
	br := bufio.NewReader(d)
	err = walk(br, a.size, fn)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("seektar: entry table: %w", err)
	}
	return nil
}

func walk(br *bufio.Reader, size int64, fn func(string, int64) bool) error {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return err
	}
	var name []byte
	var off int64
	for i := uint64(0); i < n; i++ {
		shared, err := binary.ReadUvarint(br)
		if err != nil {
			return err
		}
		l, err := binary.ReadUvarint(br)
		if err != nil {
			return err
		}
		if shared > uint64(len(name)) || shared+l > maxName {
			return fmt.Errorf("entry %d: bad name lengths", i)
		}
		name = append(name[:shared], make([]byte, l)...)
		if _, err := io.ReadFull(br, name[shared:]); err != nil {
			return err
		}
		delta, err := binary.ReadUvarint(br)
		if err != nil {
			return err
		}
		if i == 0 {
			off = 0 // the first delta is the offset itself, and may be 0
		} else if delta == 0 {
			return fmt.Errorf("entry %d: offset out of order", i)
		}
		if delta >= uint64(size) || off+int64(delta) >= size {
			return fmt.Errorf("entry %d: offset past the archive", i)
		}
		off += int64(delta)
		if !fn(string(name), off) {
			return nil
		}
	}
	if _, err := binary.ReadUvarint(br); err != nil {
		return err
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return errors.New("bytes after the table")
	}
	return nil
}

// Entry returns the header of the entry whose header begins at off and a reader of its
// content: only the frames holding them are read and decompressed. The name must be want
// (its trailing slash aside): the table and the archive must agree.
func (a *Archive) Entry(off int64, want string) (*tar.Header, *tar.Reader, error) {
	if off < 0 || off >= a.size {
		return nil, nil, fmt.Errorf("seektar: offset %d past the archive", off)
	}
	tr := tar.NewReader(bufio.NewReaderSize(io.NewSectionReader(a.r, off, a.size-off), 64<<10))
	h, err := tr.Next()
	if err != nil {
		return nil, nil, fmt.Errorf("seektar: entry %q at %d: %w", want, off, err)
	}
	if strings.TrimSuffix(h.Name, "/") != strings.TrimSuffix(want, "/") {
		return nil, nil, fmt.Errorf("seektar: the entry at %d is %q, the table says %q", off, h.Name, want)
	}
	return h, tr, nil
}
