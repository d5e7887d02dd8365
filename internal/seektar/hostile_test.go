package seektar_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/seektar"
)

const (
	seekMagic   = 0x184D2A5E // the seek table's skippable frame
	footerMagic = 0x8F92EAB1
	// allocBound is what opening a hostile archive and reading every entry of it may
	// allocate in all, beyond a few times the file's size: the frames are 1 MiB, the decoder's
	// window at most 8 MiB.
	allocBound = 96 << 20
)

// frame is one entry of the seek table.
type frame struct{ c, d, sum uint32 }

// seekable is an archive cut into what lies before its seek table (the frames and the
// entry table) and the seek table's entries.
type seekable struct {
	head     []byte
	tocStart int // where the entry table's skippable frame begins
	frames   []frame
	checks   bool
}

// smallArchive writes a tar.zst of a tree with four frames (incompressible data) and
// a few small files, and cuts it up.
func smallArchive(t testing.TB) seekable {
	t.Helper()
	big := make([]byte, 7<<19)
	_, _ = rand.Read(big)
	s := archiveOf(t, big)
	if len(s.frames) < 4 {
		t.Fatalf("test setup: %d frames, want several", len(s.frames))
	}
	return s
}

// archiveOf writes a tar.zst of a tree holding big and a few small files, and cuts it up.
func archiveOf(t testing.TB, big []byte) seekable {
	t.Helper()
	root := filepath.Join(t.TempDir(), "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "d"), 0o755))
	must(os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644))
	for _, n := range []string{"a.txt", "d/b.txt", "z.txt"} {
		must(os.WriteFile(filepath.Join(root, n), []byte(n+"\n"), 0o644))
	}
	var b bytes.Buffer
	cw, err := archive.Compress(&b, archive.Zstd, 0)
	must(err)
	_, err = archive.WriteTar(context.Background(), cw, root, archive.WriteOptions{})
	must(err)
	must(cw.Close())
	return cut(t, b.Bytes())
}

// cut parses the tail of a seekable archive.
func cut(t testing.TB, b []byte) seekable {
	t.Helper()
	foot := b[len(b)-9:]
	if binary.LittleEndian.Uint32(foot[5:]) != footerMagic {
		t.Fatal("no seek table footer")
	}
	n := int(binary.LittleEndian.Uint32(foot))
	checks := foot[4]&0x80 != 0
	es := 8
	if checks {
		es = 12
	}
	start := len(b) - 9 - n*es - 8
	if binary.LittleEndian.Uint32(b[start:]) != seekMagic {
		t.Fatal("no seek table frame")
	}
	s := seekable{head: b[:start], checks: checks}
	for i := range n {
		e := b[start+8+i*es:]
		f := frame{c: binary.LittleEndian.Uint32(e), d: binary.LittleEndian.Uint32(e[4:])}
		if checks {
			f.sum = binary.LittleEndian.Uint32(e[8:])
		}
		s.frames = append(s.frames, f)
	}
	tocLen := int(binary.LittleEndian.Uint32(b[start-4:]))
	s.tocStart = start - 8 - tocLen
	return s
}

// build writes the archive with frames fs as its seek table and count as the footer's
// frame count.
func (s seekable) build(fs []frame, count uint32) []byte {
	es := 8
	if s.checks {
		es = 12
	}
	out := append([]byte{}, s.head...)
	out = binary.LittleEndian.AppendUint32(out, seekMagic)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(fs)*es+9))
	for _, f := range fs {
		out = binary.LittleEndian.AppendUint32(out, f.c)
		out = binary.LittleEndian.AppendUint32(out, f.d)
		if s.checks {
			out = binary.LittleEndian.AppendUint32(out, f.sum)
		}
	}
	out = binary.LittleEndian.AppendUint32(out, count)
	desc := byte(0)
	if s.checks {
		desc = 0x80
	}
	out = append(out, desc)
	return binary.LittleEndian.AppendUint32(out, footerMagic)
}

func (s seekable) with(edit func(fs []frame) []frame) []byte {
	fs := edit(append([]frame{}, s.frames...))
	return s.build(fs, uint32(len(fs)))
}

// guarded is the archive as a ReaderAt that notes any read outside it.
type guarded struct {
	b       []byte
	outside atomic.Int64
}

func (g *guarded) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(g.b)) {
		g.outside.Add(1)
	}
	if off < 0 || off >= int64(len(g.b)) {
		return 0, io.EOF
	}
	n := copy(p, g.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readAll opens b and reads every entry the table lists, each whole: the first error is
// returned. The archive is never read outside its bytes, and all of it allocates less than
// allocBound plus four times the file's size.
func readAll(t *testing.T, b []byte) (err error) {
	t.Helper()
	g := &guarded{b: b}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	defer func() {
		runtime.ReadMemStats(&m1)
		if n := g.outside.Load(); n > 0 {
			t.Errorf("%d reads outside the %d bytes of the archive", n, len(b))
		}
		if got := m1.TotalAlloc - m0.TotalAlloc; got > allocBound+4*uint64(len(b)) {
			t.Errorf("allocated %d MiB for an archive of %d KiB", got>>20, len(b)>>10)
		}
	}()
	a, err := seektar.Open(g, int64(len(b)))
	if err != nil {
		return err
	}
	defer a.Close()
	type ent struct {
		name string
		off  int64
	}
	var es []ent
	if err := a.Entries(func(name string, off int64) bool {
		es = append(es, ent{name, off})
		return len(es) < 1000
	}); err != nil {
		return err
	}
	for _, e := range es {
		_, r, err := a.Entry(e.off, e.name)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, io.LimitReader(r, 64<<20)); err != nil {
			return err
		}
	}
	return nil
}

// TestHostileSeekTable: seek tables whose frames lie about their sizes, count or checksums,
// or that are cut short, are refused with an error (by Open, or at the latest when the
// lying frame is read), never with a panic, a read outside the archive, or an allocation
// the file's size does not bound.
func TestHostileSeekTable(t *testing.T) {
	s := smallArchive(t)
	if err := readAll(t, s.build(s.frames, uint32(len(s.frames)))); err != nil {
		t.Fatalf("the untouched archive, rebuilt: %v", err)
	}
	last := len(s.frames) - 1
	cases := map[string][]byte{
		"compressed size too large": s.with(func(fs []frame) []frame { fs[0].c += 1 << 20; return fs }),
		"compressed size one too large": s.with(func(fs []frame) []frame {
			fs[last].c++
			return fs
		}),
		"compressed sizes summing past the file": s.with(func(fs []frame) []frame {
			for i := range fs {
				fs[i].c = 0xFFFFFFFF
			}
			return fs
		}),
		"compressed size too small": s.with(func(fs []frame) []frame { fs[0].c -= 100; fs[last].c += 100; return fs }),
		"compressed size zero":      s.with(func(fs []frame) []frame { fs[1].c, fs[2].c = 0, fs[2].c+fs[1].c; return fs }),
		"frames overlapping":        s.with(func(fs []frame) []frame { fs[0].c += 100; fs[1].c -= 100; return fs }),
		"uncompressed size too large": s.with(func(fs []frame) []frame {
			fs[0].d = 0xFFFFFFFF
			return fs
		}),
		"uncompressed size one too large": s.with(func(fs []frame) []frame { fs[1].d++; return fs }),
		"uncompressed size too small":     s.with(func(fs []frame) []frame { fs[0].d = 10; return fs }),
		"uncompressed sizes all zero": s.with(func(fs []frame) []frame {
			for i := range fs {
				fs[i].d = 0
			}
			return fs
		}),
		"uncompressed sizes shifted": s.with(func(fs []frame) []frame { fs[0].d -= 512; fs[1].d += 512; return fs }),
		"checksum lies": s.with(func(fs []frame) []frame {
			fs[1].sum ^= 1
			return fs
		}),
		"the last frame missing":  s.with(func(fs []frame) []frame { return fs[:last] }),
		"the first frame missing": s.with(func(fs []frame) []frame { return fs[1:] }),
		"no frames":               s.with(func(fs []frame) []frame { return nil }),
		"a frame too many":        s.with(func(fs []frame) []frame { return append(fs, frame{c: 1, d: 1}) }),
		"huge count":              s.build(s.frames, 0xFFFFFFFF),
		"count one too many":      s.build(s.frames, uint32(len(s.frames)+1)),
		"count one too few":       s.build(s.frames, uint32(len(s.frames)-1)),
		"count zero":              s.build(s.frames, 0),
	}
	if !s.checks {
		delete(cases, "checksum lies")
	}
	full := s.build(s.frames, uint32(len(s.frames)))
	tableAt := len(s.head)
	for _, n := range []int{tableAt + 4, tableAt + 8, tableAt + 8 + 5, len(full) - 9, len(full) - 4} {
		cases[fmt.Sprintf("truncated to %d of %d", n, len(full))] = full[:n]
	}
	// The entry table's length, which says where it begins, lying.
	for _, l := range []uint32{0, 11, 0xFFFFFFFF, uint32(tableAt + 100)} {
		b := append([]byte{}, full...)
		binary.LittleEndian.PutUint32(b[tableAt-4:], l)
		cases[fmt.Sprintf("entry table length %d", l)] = b
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if err := readAll(t, b); err == nil {
				t.Errorf("read with a hostile seek table (%s) without an error", name)
			} else {
				t.Log(err)
			}
		})
	}
}

// zstdBomb is one zstd frame of n zero bytes: a few KiB.
func zstdBomb(t testing.TB, n int64) []byte {
	t.Helper()
	var b bytes.Buffer
	enc, err := zstd.NewWriter(&b, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(enc, io.LimitReader(zeros{}, n)); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestHostileFrameSize: a frame of a few KiB that decompresses to 256 MiB put in place of
// the first one: with a seek table that says so (a frame far larger than any a writer
// makes), and with one that says 1 MiB. Either is refused without decompressing it into
// memory (bounded as readAll checks).
func TestHostileFrameSize(t *testing.T) {
	s := smallArchive(t)
	bomb := zstdBomb(t, 256<<20)
	first := int(s.frames[0].c)
	head := append(append([]byte{}, bomb...), s.head[first:]...)
	for name, d := range map[string]uint32{"honest table": 256 << 20, "table says 1 MiB": s.frames[0].d} {
		t.Run(name, func(t *testing.T) {
			h := s
			h.head = head
			fs := append([]frame{}, s.frames...)
			fs[0].c, fs[0].d = uint32(len(bomb)), d
			if err := readAll(t, h.build(fs, uint32(len(fs)))); err == nil {
				t.Error("read an archive whose first frame decompresses to 256 MiB without an error")
			} else {
				t.Log(err)
			}
		})
	}
}

// withTOC is the archive with body (uncompressed, the format of the package doc) as its
// entry table.
func (s seekable) withTOC(t testing.TB, body []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	payload := append([]byte("MAIMTOC1"), enc.EncodeAll(body, nil)...)
	enc.Close()
	payload = binary.LittleEndian.AppendUint32(payload, uint32(len(payload)+4))
	h := s
	h.head = append([]byte{}, s.head[:s.tocStart]...)
	h.head = binary.LittleEndian.AppendUint32(h.head, 0x184D2A5B)
	h.head = binary.LittleEndian.AppendUint32(h.head, uint32(len(payload)))
	h.head = append(h.head, payload...)
	return h.build(s.frames, uint32(len(s.frames)))
}

// uv is the concatenation of uvarints and raw strings.
func uv(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = binary.AppendUvarint(b, uint64(v))
		case uint64:
			b = binary.AppendUvarint(b, v)
		case string:
			b = append(b, v...)
		}
	}
	return b
}

// TestHostileEntryTable: an entry table that lies (an offset at or past the archive's end,
// offsets out of order, impossible name lengths, a huge count, bytes left over, a body
// that decompresses to far more than it says) is refused by Entries with an error; the
// table as written reads back.
func TestHostileEntryTable(t *testing.T) {
	s := smallArchive(t)
	var size int
	for _, f := range s.frames {
		size += int(f.d)
	}
	good := s.withTOC(t, uv(2, 0, 2, "./", 0, 0, 5, "a.txt", 512, 1024))
	if err := entries(t, good); err != nil {
		t.Fatalf("a well-formed table: %v", err)
	}
	cases := map[string][]byte{
		"first offset at the end":     uv(1, 0, 2, "./", size, 0),
		"first offset past the end":   uv(1, 0, 2, "./", size+1, 0),
		"later offset at the end":     uv(2, 0, 2, "./", 0, 0, 1, "a", size, 0),
		"offset summing past the end": uv(2, 0, 2, "./", size-1, 0, 1, "a", size-1, 0),
		"offset delta wrapping":       uv(2, 0, 2, "./", 512, 0, 1, "a", uint64(1<<64-256), 0),
		"offsets equal":               uv(2, 0, 2, "./", 0, 0, 1, "a", 0, 0),
		"huge count":                  uv(uint64(1<<62), 0, 2, "./", 0, 0),
		"name longer than 64 KiB":     uv(1, 0, 1<<17, "x"),
		"name length huge":            uv(1, 0, uint64(1<<63)),
		"shared past the last name":   uv(2, 0, 2, "./", 0, 3, 1, "a", 512, 0),
		"bytes left over":             uv(1, 0, 2, "./", 0, 0, "x"),
		"no end":                      uv(1, 0, 2, "./", 0),
		"empty":                       nil,
		"a bomb":                      append(uv(0, 0), make([]byte, 64<<20)...),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if err := entries(t, s.withTOC(t, body)); err == nil {
				t.Errorf("entry table (%s) read without an error", name)
			} else {
				t.Log(err)
			}
		})
	}
}

// entries opens b and lists its entry table, bounded as readAll is.
func entries(t *testing.T, b []byte) error {
	t.Helper()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	defer func() {
		runtime.ReadMemStats(&m1)
		if got := m1.TotalAlloc - m0.TotalAlloc; got > allocBound+4*uint64(len(b)) {
			t.Errorf("allocated %d MiB for an archive of %d KiB", got>>20, len(b)>>10)
		}
	}()
	a, err := seektar.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Entries(func(string, int64) bool { return true })
}
