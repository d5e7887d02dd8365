//go:build linux || darwin

package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// noLeak fails t when goroutines started during the test are still running at its end
// (Extract must never return before its writers have stopped).
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		var n int
		for range 50 {
			if n = runtime.NumGoroutine(); n <= before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	})
}

// manyFiles writes n small files of varied sizes (empty to a few KiB, some above poolMaxFile)
// over dirs directories, with varied modes and times.
func manyFiles(t *testing.T, dir string, n, dirs int) {
	t.Helper()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%03d", i%dirs), fmt.Sprintf("s%d", i%3), fmt.Sprintf("f%05d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		size := (i * 977) % 9000
		if i%500 == 7 {
			size = poolMaxFile + 1 + i // streamed by main between batches
		}
		b := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		if err := os.WriteFile(p, b, os.FileMode(0o600|(i%3)<<3)); err != nil {
			t.Fatal(err)
		}
		mt := time.Unix(1700000000+int64(i), int64(i))
		os.Chtimes(p, mt, mt)
	}
}

func TestExtractManySmallFiles(t *testing.T) {
	noLeak(t)
	src := tempDir(t)
	manyFiles(t, src, 1500, 40)
	// Hardlinks to files the writers write, in the same and in another directory, and a
	// symlink beside them.
	os.Link(filepath.Join(src, "d001/s1/f00001"), filepath.Join(src, "d001/s1/zz-link"))
	os.Link(filepath.Join(src, "d002/s2/f00002"), filepath.Join(src, "d039/s0/zz-link"))
	os.Link(filepath.Join(src, "d007/s1/f00007"), filepath.Join(src, "d007/s1/zz-big-link")) // a streamed file
	os.Symlink("f00003", filepath.Join(src, "d003/s0/zz-sym"))
	want := snapshot(t, src)
	data, st := pack(t, src, Zstd, WriteOptions{})

	var peak int64
	testHookPoolClosed = func(p int64) { peak = max(peak, p) }
	defer func() { testHookPoolClosed = nil }()

	// Into nothing, then over a changed copy (exactness: extra files go, changed ones are
	// replaced, a file where the archive has a directory and a directory where it has a file).
	dest := filepath.Join(tempDir(t), "dest")
	got, err := unpack(t, data, Zstd, dest, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Files != st.Files || got.Bytes != st.Bytes || got.Entries != st.Entries {
		t.Errorf("stats %+v, wrote %+v", got, st)
	}
	if d := diffTrees(want, snapshot(t, dest), false); d != "" {
		t.Fatalf("fresh extraction differs:\n%s", d)
	}
	os.WriteFile(filepath.Join(dest, "d000/s0/extra"), []byte("not in the archive"), 0o644)
	os.WriteFile(filepath.Join(dest, "d000/s0/f00000"), []byte("changed"), 0o644)
	os.RemoveAll(filepath.Join(dest, "d004/s1"))
	os.WriteFile(filepath.Join(dest, "d004/s1"), []byte("file where the archive has a dir"), 0o644)
	os.Remove(filepath.Join(dest, "d005/s2/f00005"))
	os.MkdirAll(filepath.Join(dest, "d005/s2/f00005/sub"), 0o755)
	os.WriteFile(filepath.Join(dest, "d005/s2/f00005/sub/x"), []byte("dir where the archive has a file"), 0o644)
	if _, err := unpack(t, data, Zstd, dest, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := diffTrees(want, snapshot(t, dest), false); d != "" {
		t.Fatalf("extraction over a changed copy differs:\n%s", d)
	}
	if peak == 0 || peak > poolBudget {
		t.Errorf("peak content in flight %d, want 0 < peak <= %d", peak, poolBudget)
	}
}

// A small budget makes the reader wait for the writers; content in flight stays within it
// (one file over it when nothing else is in flight).
func TestExtractBudgetBounded(t *testing.T) {
	noLeak(t)
	src := tempDir(t)
	manyFiles(t, src, 600, 7)
	want := snapshot(t, src)
	data, _ := pack(t, src, None, WriteOptions{})
	var peak int64
	testHookPoolClosed = func(p int64) { peak = p }
	poolBudgetBytes = 64 << 10
	defer func() { testHookPoolClosed, poolBudgetBytes = nil, poolBudget }()
	dest := filepath.Join(tempDir(t), "dest")
	if _, err := unpack(t, data, None, dest, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := diffTrees(want, snapshot(t, dest), false); d != "" {
		t.Fatalf("differs:\n%s", d)
	}
	if peak > 64<<10 {
		t.Errorf("peak content in flight %d > budget %d", peak, 64<<10)
	}
}

// Duplicate entries (a later entry for the same path wins, as with tar) across the pool and
// main: a file then a file, a file then a directory, a directory with children then a file,
// a file then a symlink, and a hardlink to a file rewritten by a later entry.
func TestExtractDuplicatesAcrossWriters(t *testing.T) {
	noLeak(t)
	content := func(h *tar.Header, n int) *tar.Header { h.Size = int64(n); return h }
	var hs []*tar.Header
	hs = append(hs, dirH("./"), dirH("./a/"))
	for i := range 200 { // enough to keep the writers busy
		hs = append(hs, content(fileH(fmt.Sprintf("./a/f%03d", i)), 100+i))
	}
	hs = append(hs,
		content(fileH("./a/f000"), 7), // file, then file
		dirH("./a/f001/"),             // file, then dir
		content(fileH("./a/f001/in"), 3),
		content(fileH("./a/f002"), 5),
		linkH("./a/f002", "target", tar.TypeSymlink), // file, then symlink
		linkH("./a/hl", "./a/f003", tar.TypeLink),    // hardlink to a pooled file
		dirH("./b/"),
		content(fileH("./b/x"), 10),
	)
	data := tarOf(t, hs...)
	dest := filepath.Join(tempDir(t), "dest")
	if _, err := unpack(t, data, None, dest, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	check := func(rel string, size int64, typ uint32) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dest, rel), &st); err != nil {
			t.Fatal(err)
		}
		if uint32(st.Mode)&unix.S_IFMT != typ || (typ == unix.S_IFREG && st.Size != size) {
			t.Errorf("%s: mode %o size %d, want type %o size %d", rel, st.Mode, st.Size, typ, size)
		}
	}
	check("a/f000", 7, unix.S_IFREG)
	check("a/f001", 0, unix.S_IFDIR)
	check("a/f001/in", 3, unix.S_IFREG)
	check("a/f002", 0, unix.S_IFLNK)
	check("a/f199", 299, unix.S_IFREG)
	var a, b unix.Stat_t
	unix.Lstat(filepath.Join(dest, "a/hl"), &a)
	unix.Lstat(filepath.Join(dest, "a/f003"), &b)
	if a.Ino != b.Ino || a.Size != 103 {
		t.Errorf("hardlink: inode %d vs %d, size %d", a.Ino, b.Ino, a.Size)
	}

	// A directory of the archive (with pooled children) replaced by a later file entry.
	data = tarOf(t, append(hs[:0:0], dirH("./"), dirH("./c/"), content(fileH("./c/1"), 9), content(fileH("./c/2"), 9),
		content(fileH("./c"), 4))...)
	if _, err := unpack(t, data, None, dest, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	check("c", 4, unix.S_IFREG)
}

// The first writer error stops the others and is what Extract returns; nothing is written
// after Extract returned and no goroutine is left.
func TestExtractWriterErrorStopsTheRest(t *testing.T) {
	noLeak(t)
	src := tempDir(t)
	manyFiles(t, src, 1000, 20)
	data, _ := pack(t, src, Zstd, WriteOptions{})
	boom := errors.New("disk on fire")
	var writes, after atomic.Int64
	var returned atomic.Bool
	testHookWrite = func(rel string) error {
		if returned.Load() {
			after.Add(1)
		}
		if writes.Add(1) == 100 {
			return fmt.Errorf("writing %s: %w", rel, boom)
		}
		return nil
	}
	defer func() { testHookWrite = nil }()
	dest := filepath.Join(tempDir(t), "dest")
	_, err := unpack(t, data, Zstd, dest, ExtractOptions{})
	returned.Store(true)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the writer's error", err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := after.Load(); n > 0 {
		t.Errorf("%d files written after Extract returned", n)
	}
	if n := writes.Load(); n >= 900 {
		t.Errorf("%d of 1000 files attempted after the error: the rest was not stopped", n)
	}
}

// An error of the reader (a hostile entry, a truncated stream, a cancelled context) with
// files queued stops the writers too.
func TestExtractReaderErrorStopsWriters(t *testing.T) {
	noLeak(t)
	var hs []*tar.Header
	hs = append(hs, dirH("./"), dirH("./a/"))
	for i := range 300 {
		h := fileH(fmt.Sprintf("./a/f%03d", i))
		h.Size = 2000
		hs = append(hs, h)
	}
	hostile := tarOf(t, append(hs, fileH("../escape"))...)
	if _, err := unpack(t, hostile, None, filepath.Join(tempDir(t), "d"), ExtractOptions{}); !isUnsafe(err) {
		t.Errorf("hostile: err = %v", err)
	}
	full := tarOf(t, hs...)
	if _, err := unpack(t, full[:len(full)/2], None, filepath.Join(tempDir(t), "d"), ExtractOptions{}); err == nil {
		t.Error("truncated: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	testHookWrite = func(string) error {
		if n.Add(1) == 10 {
			cancel()
		}
		return nil
	}
	defer func() { testHookWrite = nil }()
	_, err := Extract(ctx, bytes.NewReader(full), filepath.Join(tempDir(t), "d"), ExtractOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func isUnsafe(err error) bool {
	var u *UnsafeEntryError
	return errors.As(err, &u) || (err != nil && strings.Contains(err.Error(), "unsafe"))
}
