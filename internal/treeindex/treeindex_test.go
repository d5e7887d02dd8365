package treeindex

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// rawIndex compresses body (the uncompressed index format) as WriteTo does.
func rawIndex(t *testing.T, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	cw, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	cw.Write(body)
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// indexBody builds an uncompressed version 3 index of the given paths (each a small file),
// count entries announced, extra appended.
func indexBody(magic string, count int, paths []string, extra []byte) []byte {
	b := []byte(magic)
	b = binary.AppendVarint(b, 1e18)
	b = binary.AppendUvarint(b, 0)
	b = binary.AppendUvarint(b, uint64(count))
	for _, p := range paths {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
		b = binary.AppendUvarint(b, 0o100644)
		for _, v := range []int64{5, 1, 2} {
			b = binary.AppendVarint(b, v)
		}
		for _, v := range []uint64{3, 4, 1000, 1000, 1} {
			b = binary.AppendUvarint(b, v)
		}
	}
	return append(b, extra...)
}

// TestIndexRoundTrip: every field survives WriteTo and ReadIndex, and the bytes depend on
// the index alone (paths are written sorted).
func TestIndexRoundTrip(t *testing.T) {
	x := &Index{Start: time.Unix(1700000000, 123), OnePass: "", Entries: map[string]Entry{
		"":        {Mode: 0o40755, Mtime: 9, Ctime: 10, Dev: 1, Ino: 2, Nlink: 3},
		"a":       {Mode: 0o100600, Size: 1 << 40, Mtime: -5, Ctime: 1e18, Dev: 1<<63 + 1, Ino: 1 << 62, Uid: 1<<32 - 1, Gid: 70, Nlink: 2},
		"d/e f/g": {Mode: 0o120777, Size: 3, Uid: 1, Gid: 2, Nlink: 1},
	}}
	var b1, b2 bytes.Buffer
	if _, err := x.WriteTo(&b1); err != nil {
		t.Fatal(err)
	}
	if _, err := x.WriteTo(&b2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Fatal("the same index gave different bytes")
	}
	y, err := Read(bytes.NewReader(b1.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !y.Start.Equal(x.Start) || y.OnePass != x.OnePass || !reflect.DeepEqual(y.Entries, x.Entries) {
		t.Fatalf("read back %+v, wrote %+v", y, x)
	}
}

// TestReadIndexRefusesHostile: what is not exactly an index is refused, never half read.
func TestReadIndexRefusesHostile(t *testing.T) {
	long := strings.Repeat("a", maxIndexString+1)
	cases := map[string][]byte{
		"another magic":    rawIndex(t, indexBody("MAIMIDX2", 1, []string{"a"}, nil)),
		"out of order":     rawIndex(t, indexBody(indexMagic, 2, []string{"b", "a"}, nil)),
		"repeated":         rawIndex(t, indexBody(indexMagic, 2, []string{"a", "a"}, nil)),
		"dot-dot":          rawIndex(t, indexBody(indexMagic, 1, []string{"a/../../etc"}, nil)),
		"absolute":         rawIndex(t, indexBody(indexMagic, 1, []string{"/etc"}, nil)),
		"empty component":  rawIndex(t, indexBody(indexMagic, 1, []string{"a//b"}, nil)),
		"trailing slash":   rawIndex(t, indexBody(indexMagic, 1, []string{"a/"}, nil)),
		"NUL":              rawIndex(t, indexBody(indexMagic, 1, []string{"a\x00b"}, nil)),
		"too long":         rawIndex(t, indexBody(indexMagic, 1, []string{long}, nil)),
		"fewer than said":  rawIndex(t, indexBody(indexMagic, 3, []string{"a", "b"}, nil)),
		"bytes after":      rawIndex(t, indexBody(indexMagic, 1, []string{"a"}, []byte{0})),
		"too many entries": rawIndex(t, indexBody(indexMagic, maxIndexEntries+1, nil, nil)),
		"not zstd":         indexBody(indexMagic, 1, []string{"a"}, nil),
		"empty":            nil,
	}
	for name, b := range cases {
		if x, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: read %d entries, want an error", name, len(x.Entries))
		}
	}
	ok := rawIndex(t, indexBody(indexMagic, 2, []string{"a", "a/b"}, nil))
	x, err := Read(bytes.NewReader(ok))
	if err != nil || len(x.Entries) != 2 || x.Entries["a/b"].Uid != 1000 {
		t.Fatalf("a well-formed index: %+v %v", x, err)
	}
	// Truncated anywhere: refused.
	for n := 0; n < len(ok); n++ {
		if _, err := Read(bytes.NewReader(ok[:n])); err == nil {
			t.Fatalf("index truncated to %d of %d bytes read", n, len(ok))
		}
	}
}
