package fsaccess

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// dataMapOf writes a file of size bytes holding data at each offset of at (the rest never
// written) and returns DataMap of it, skipping when the temp dir's file system keeps no holes.
func dataMapOf(t *testing.T, size int64, at map[int64][]byte) (*os.File, []Extent) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, b := range at {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if len(at) > 0 && st.Blocks*512 >= size/2 {
		t.Skipf("the temp dir's file system keeps no holes (%d of %d bytes allocated)", st.Blocks*512, size)
	}
	if _, err := f.Seek(12345, io.SeekStart); err != nil { // DataMap leaves the offset at 0
		t.Fatal(err)
	}
	ext, err := DataMap(int(f.Fd()), size)
	if err != nil {
		t.Fatal(err)
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != 0 {
		t.Errorf("DataMap left the file offset at %d, want 0", off)
	}
	return f, ext
}

// A file with holes maps to its data extents in order, at the file system's block
// granularity; a hole at the end is no extent.
func TestDataMapWithHoles(t *testing.T) {
	const mib = 1 << 20
	_, ext := dataMapOf(t, 16*mib, map[int64][]byte{
		1 * mib: bytes.Repeat([]byte("a"), 4096),
		8 * mib: bytes.Repeat([]byte("b"), 8192),
	})
	want := []Extent{{1 * mib, 4096}, {8 * mib, 8192}}
	if !reflect.DeepEqual(ext, want) {
		t.Fatalf("DataMap = %v, want %v", ext, want)
	}
	// a hole of one block between two extents
	_, ext = dataMapOf(t, 1*mib, map[int64][]byte{
		0:    bytes.Repeat([]byte("a"), 4096),
		8192: bytes.Repeat([]byte("b"), 4096),
	})
	if want := []Extent{{0, 4096}, {8192, 4096}}; !reflect.DeepEqual(ext, want) {
		t.Fatalf("one-block hole: DataMap = %v, want %v", ext, want)
	}
}

// A file whose data ends before its size (a hole at the end) maps to that data only; a file
// that is only a hole maps to nil, as a file without holes does (no extent to list: the
// caller archives it whole, as zeros).
func TestDataMapHoleAtEndAndAllHole(t *testing.T) {
	const mib = 1 << 20
	_, ext := dataMapOf(t, 8*mib, map[int64][]byte{0: bytes.Repeat([]byte("a"), 4096)})
	if want := []Extent{{0, 4096}}; !reflect.DeepEqual(ext, want) {
		t.Fatalf("hole at the end: DataMap = %v, want %v", ext, want)
	}
	_, ext = dataMapOf(t, 8*mib, map[int64][]byte{})
	if ext != nil {
		t.Fatalf("a file that is all hole: DataMap = %v, want nil", ext)
	}
}

// A file without holes maps to nil: nothing to gain from sparse handling.
func TestDataMapWithoutHoles(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "dense"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(bytes.Repeat([]byte("d"), 3*4096+17)); err != nil {
		t.Fatal(err)
	}
	ext, err := DataMap(int(f.Fd()), 3*4096+17)
	if err != nil || ext != nil {
		t.Fatalf("a file without holes: DataMap = %v, %v, want nil", ext, err)
	}
	// a file that grew after its size was taken: only the first size bytes are mapped
	ext, err = DataMap(int(f.Fd()), 4096)
	if err != nil || ext != nil {
		t.Fatalf("a file grown beyond size: DataMap = %v, %v, want nil", ext, err)
	}
	ext, err = DataMap(int(f.Fd()), 0)
	if err != nil || ext != nil {
		t.Fatalf("an empty size: DataMap = %v, %v, want nil", ext, err)
	}
}
