package diffrestore

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// opts compare restored trees: everything but atime (owners too: the tests run as the
// files' owner, and as root the restore keeps them).
var opts = treediff.Options{}

// fixture writes a tree of every kind of entry at root.
func fixture(t *testing.T, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "d/e/f"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "swap/inner"), 0o750))
	for i, n := range []string{"a.bin", "b.bin", "c.bin", "d/one", "d/e/two", "d/e/f/three", "swap/inner/x", "mode.bin", "mm.bin"} {
		must(os.WriteFile(filepath.Join(root, n), []byte(strings.Repeat(fmt.Sprintf("%s-%d ", n, i), 2000)), 0o644))
	}
	must(os.Symlink("a.bin", filepath.Join(root, "link")))
	must(os.Link(filepath.Join(root, "d/one"), filepath.Join(root, "d/one-hard")))
	big := make([]byte, 5<<20) // several zstd frames, incompressible
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	must(os.WriteFile(filepath.Join(root, "big.bin"), big, 0o600))
}

// settle waits until files written now count as older than a backup taken afterwards
// (their ctime before its start less treeindex.CtimeMargin).
func settle() { time.Sleep(treeindex.CtimeMargin + 1100*time.Millisecond) }

// backup archives root in one pass (zstd, seekable) and returns its final index and file.
func backup(t *testing.T, root string, c archive.Compression) (*treeindex.Index, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "a"+c.Ext())
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cw, err := archive.Compress(f, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	idx := archive.NewIndex()
	if _, err := archive.WriteTar(context.Background(), cw, root, archive.WriteOptions{Final: idx}); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	return idx, file
}

// counted counts the bytes read from an archive file.
type counted struct {
	r io.ReaderAt
	n *int64
}

func (c counted) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	*c.n += int64(n)
	return n, err
}

// archiveBytesRead is what the last restore read of its archive files.
var archiveBytesRead int64

// restore runs Restore with the archive files.
func restore(t *testing.T, dest string, idx *treeindex.Index, files ...string) Result {
	t.Helper()
	var as []Archive
	archiveBytesRead = 0
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fi, _ := f.Stat()
		as = append(as, Archive{Name: filepath.Base(p), R: counted{f, &archiveBytesRead}, Size: fi.Size()})
	}
	res, err := Restore(context.Background(), dest, idx, as, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// full extracts the archive whole into a fresh directory (the fallback).
func full(t *testing.T, file string, c archive.Compression) string {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "full")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dr, err := archive.Decompress(f, c)
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	if _, err := archive.Extract(context.Background(), dr, dest, archive.ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	return dest
}

func ino(t *testing.T, p string) (uint64, int64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino, st.Ctim.Nano()
}

// mmapWrite changes one byte of p through a shared writable mapping (no write(2)).
func mmapWrite(t *testing.T, p string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	m, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	m[10] ^= 0xff
	if err := syscall.Munmap(m); err != nil {
		t.Fatal(err)
	}
}

// sameSizeSameMtime rewrites p with other content of the same size and puts its mtime back
// with `touch -d`: only its ctime tells.
func sameSizeSameMtime(t *testing.T, p string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'Z'
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	stamp := fmt.Sprintf("@%d.%09d", st.Mtim.Sec, st.Mtim.Nsec)
	if out, err := exec.Command("touch", "-m", "-d", stamp, p).CombinedOutput(); err != nil {
		t.Fatalf("touch -d: %v: %s", err, out)
	}
	var now unix.Stat_t
	unix.Lstat(p, &now)
	if now.Mtim != st.Mtim || now.Size != st.Size {
		t.Fatalf("touch -d did not put the mtime back: %v, was %v", now.Mtim, st.Mtim)
	}
}

// TestFastPath: after a backup, the tree changes in every way that must be caught (a file
// rewritten with the same size and its mtime put back by `touch -d`, a store through a shared
// mapping, a chmod, a removed file, a new file, a symlink swapped in for a directory, a
// directory's contents removed); Restore takes the fast path, the result is byte-exact
// (equal to the tree at the backup and to a full extraction of the archive), and the files
// nobody touched keep their inode and ctime: they were not rewritten.
func TestFastPath(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	fixture(t, root)
	settle()
	idx, file := backup(t, root, archive.Zstd)
	if idx.OnePass != "" {
		t.Skipf("the test dir is not on an exact file system: %s", idx.OnePass)
	}
	want := treediff.Of(t, root)
	untouched := []string{"a.bin", "big.bin", "d/e/two", "d/e/f/three", "link"}
	before := map[string][2]int64{}
	for _, p := range untouched {
		i, c := ino(t, filepath.Join(root, p))
		before[p] = [2]int64{int64(i), c}
	}

	sameSizeSameMtime(t, filepath.Join(root, "b.bin"))
	mmapWrite(t, filepath.Join(root, "mm.bin"))
	must(t, os.Chmod(filepath.Join(root, "mode.bin"), 0o600))
	must(t, os.Remove(filepath.Join(root, "c.bin")))
	must(t, os.WriteFile(filepath.Join(root, "d/new.bin"), []byte("new"), 0o644))
	must(t, os.RemoveAll(filepath.Join(root, "swap")))
	elsewhere := t.TempDir()
	must(t, os.WriteFile(filepath.Join(elsewhere, "victim"), []byte("keep me"), 0o644))
	must(t, os.Symlink(elsewhere, filepath.Join(root, "swap")))
	must(t, os.RemoveAll(filepath.Join(root, "d/e/f")))
	must(t, os.Mkdir(filepath.Join(root, "d/e/f"), 0o700))

	res := restore(t, root, idx, file)
	if res.Fallback != "" {
		t.Fatalf("fell back: %s", res.Fallback)
	}
	treediff.AssertSame(t, want, treediff.Of(t, root), opts)
	treediff.AssertSame(t, treediff.Of(t, full(t, file, archive.Zstd)), treediff.Of(t, root), opts)
	if b, err := os.ReadFile(filepath.Join(elsewhere, "victim")); err != nil || string(b) != "keep me" {
		t.Fatalf("the symlink's target was written through: %q %v", b, err)
	}
	for _, p := range untouched {
		if p == "d/e/f/three" {
			continue // its directory was replaced: rewritten
		}
		i, c := ino(t, filepath.Join(root, p))
		if [2]int64{int64(i), c} != before[p] {
			t.Errorf("%s was rewritten (inode %d ctime %d, was %v)", p, i, c, before[p])
		}
	}
	if fi, _ := os.Stat(file); archiveBytesRead*2 > fi.Size() {
		t.Errorf("read %d bytes of the %d-byte archive: the frames of the untouched big.bin too", archiveBytesRead, fi.Size())
	}
	// b, mm, mode, c (missing), swap/inner/x, d/e/f/three; the hardlinked pair is always
	// rewritten (two files).
	if res.Rewritten != 8 || res.Removed != 1 || res.Files != 11 {
		t.Errorf("%s, %d removed, want 8 of 11 rewritten and d/new.bin removed", res.Progress(), res.Removed)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFallbacks: where the fast path would not be exact, Restore touches nothing and says
// why; the full extraction the caller then runs is byte-exact.
func TestFallbacks(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "data")
	fixture(t, root)
	settle()
	idx, file := backup(t, root, archive.Zstd)
	if idx.OnePass != "" {
		t.Skipf("the test dir is not on an exact file system: %s", idx.OnePass)
	}
	want := treediff.Of(t, root)
	copyIdx := func() *treeindex.Index {
		x := &treeindex.Index{Start: idx.Start, Entries: map[string]treeindex.Entry{}}
		for k, v := range idx.Entries {
			x.Entries[k] = v
		}
		return x
	}

	// A foreign target: the same content, another directory.
	foreign := filepath.Join(base, "foreign")
	must(t, exec.Command("cp", "-a", root, foreign).Run())
	must(t, os.WriteFile(filepath.Join(foreign, "a.bin"), []byte("other"), 0o644))
	cases := map[string]struct {
		dest, why string
		idx       *treeindex.Index
		files     []string
	}{
		"foreign target": {foreign, "not the tree the backup read", copyIdx(), []string{file}},
		"empty target":   {filepath.Join(base, "empty"), "empty", copyIdx(), []string{file}},
		"missing target": {filepath.Join(base, "missing"), "does not exist", copyIdx(), []string{file}},
		"no index":       {root, "no index", nil, []string{file}},
		"inexact index":  {root, "cannot tell every change", &treeindex.Index{Start: idx.Start, OnePass: "x is on tmpfs", Entries: idx.Entries}, []string{file}},
	}
	must(t, os.Mkdir(filepath.Join(base, "empty"), 0o755))
	_, gz := backup(t, root, archive.Gzip)
	cases["gzip archive"] = struct {
		dest, why string
		idx       *treeindex.Index
		files     []string
	}{root, "not seekable", copyIdx(), []string{gz}}

	must(t, os.WriteFile(filepath.Join(root, "a.bin"), []byte("changed"), 0o644))
	for name, c := range cases {
		before, _ := treediff.Read(c.dest)
		res := restore(t, c.dest, c.idx, c.files...)
		if !strings.Contains(res.Fallback, c.why) {
			t.Errorf("%s: fallback %q, want it to say %q", name, res.Fallback, c.why)
			continue
		}
		if after, _ := treediff.Read(c.dest); len(treediff.Diff(before, after, opts)) != 0 {
			t.Errorf("%s: the target changed although Restore fell back", name)
		}
	}
	// The caller's fallback: a full extraction, exact.
	treediff.AssertSame(t, want, treediff.Of(t, full(t, file, archive.Zstd)), opts)
}

// TestTmpfsFallsBack: a target on tmpfs (no writeback: a store through a mapping may move no
// time) is restored in full.
func TestTmpfsFallsBack(t *testing.T) {
	var sfs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &sfs); err != nil || sfs.Type != 0x01021994 {
		t.Skip("no tmpfs at /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "diffrestore-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	root := filepath.Join(dir, "data")
	fixture(t, root)
	idx, file := backup(t, root, archive.Zstd)
	if !strings.Contains(idx.OnePass, "tmpfs") {
		t.Fatalf("index of a tmpfs tree: one-pass %q, want it to name tmpfs", idx.OnePass)
	}
	idx.OnePass = "" // even an index that claims to be exact: the walk finds tmpfs
	res := restore(t, root, idx, file)
	if !strings.Contains(res.Fallback, "tmpfs") {
		t.Fatalf("fallback %q, want tmpfs", res.Fallback)
	}
}

// TestCtimeAtBackupRewritten: files written within the ctime margin of the backup's start
// may have changed in the same clock tick as they were read: the fast path rewrites them
// even when nothing touched them since, and leaves the older ones alone.
func TestCtimeAtBackupRewritten(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	fixture(t, root)
	settle()
	must(t, os.WriteFile(filepath.Join(root, "fresh.bin"), []byte("written just now"), 0o644))
	idx, file := backup(t, root, archive.Zstd)
	if idx.OnePass != "" {
		t.Skipf("not an exact file system: %s", idx.OnePass)
	}
	want := treediff.Of(t, root)
	freshIno, freshC := ino(t, filepath.Join(root, "fresh.bin"))
	oldIno, oldC := ino(t, filepath.Join(root, "a.bin"))
	res := restore(t, root, idx, file)
	if res.Fallback != "" {
		t.Fatalf("fell back: %s", res.Fallback)
	}
	treediff.AssertSame(t, want, treediff.Of(t, root), opts)
	if i, c := ino(t, filepath.Join(root, "fresh.bin")); i == freshIno && c == freshC {
		t.Error("fresh.bin, written within the margin, was not rewritten")
	}
	if i, c := ino(t, filepath.Join(root, "a.bin")); i != oldIno || c != oldC {
		t.Error("a.bin, untouched and old, was rewritten")
	}
}

// TestTwoPass: a two-pass backup (a base read while the data changed, the delta since) is
// restored by reading each path from the newest archive that holds it: the result equals
// the tree as pass two read it, and equals the base and delta extracted in full.
func TestTwoPass(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "data")
	fixture(t, root)
	settle()
	dir := t.TempDir()
	write := func(name string, o archive.WriteOptions) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		must(t, err)
		defer f.Close()
		cw, err := archive.Compress(f, archive.Zstd, 0)
		must(t, err)
		if _, err := archive.WriteTar(ctx, cw, root, o); err != nil {
			t.Fatal(err)
		}
		must(t, cw.Close())
		return p
	}
	rec := archive.NewIndex()
	base := write("base.tar.zst", archive.WriteOptions{Record: rec})
	if rec.OnePass != "" {
		t.Skipf("not an exact file system: %s", rec.OnePass)
	}
	// Meanwhile the services write on.
	must(t, os.WriteFile(filepath.Join(root, "b.bin"), []byte("between the passes"), 0o644))
	must(t, os.Remove(filepath.Join(root, "c.bin")))
	must(t, os.WriteFile(filepath.Join(root, "d/added"), []byte("added"), 0o644))
	fin := archive.NewIndex()
	delta := write("delta.tar.zst", archive.WriteOptions{Since: rec, Final: fin})
	want := treediff.Of(t, root)
	aIno, aC := ino(t, filepath.Join(root, "a.bin"))

	// After the backup, the new version writes.
	sameSizeSameMtime(t, filepath.Join(root, "d/e/two"))
	must(t, os.WriteFile(filepath.Join(root, "d/added"), []byte("ADDED"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "c.bin"), []byte("back"), 0o644))
	mmapWrite(t, filepath.Join(root, "big.bin"))

	res := restore(t, root, fin, base, delta)
	if res.Fallback != "" {
		t.Fatalf("fell back: %s", res.Fallback)
	}
	treediff.AssertSame(t, want, treediff.Of(t, root), opts)
	if i, c := ino(t, filepath.Join(root, "a.bin")); i != aIno || c != aC {
		t.Error("a.bin, untouched, was rewritten")
	}
	// The full way: base, then the delta over it.
	dest := full(t, base, archive.Zstd)
	f, err := os.Open(delta)
	must(t, err)
	defer f.Close()
	dr, err := archive.Decompress(f, archive.Zstd)
	must(t, err)
	defer dr.Close()
	if _, err := archive.ApplyDelta(ctx, dr, dest, archive.ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	treediff.AssertSame(t, treediff.Of(t, dest), treediff.Of(t, root), opts)
}

// TestLargeDirStatBatches: a directory of 2,500 files is compared in batches statted on all
// cores (fsaccess.StatNames, three batches here) and in a nested one too; every kind of
// change in each batch (rewritten with size and mtime put back, removed, added, swapped for a
// symlink, made a directory) is found, the restore equals the backup exactly, and what did
// not change keeps its inode.
func TestLargeDirStatBatches(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	big := filepath.Join(root, "big")
	nested := filepath.Join(big, "nested")
	must(t, os.MkdirAll(nested, 0o755))
	for i := range 2500 {
		must(t, os.WriteFile(filepath.Join(big, fmt.Sprintf("f%05d", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644))
	}
	for i := range 100 {
		must(t, os.WriteFile(filepath.Join(nested, fmt.Sprintf("n%03d", i)), []byte(fmt.Sprintf("nested %d\n", i)), 0o644))
	}
	settle()
	idx, file := backup(t, root, archive.Zstd)
	if idx.OnePass != "" {
		t.Skipf("the test dir is not on an exact file system: %s", idx.OnePass)
	}
	want := treediff.Of(t, root)
	p := func(i int) string { return filepath.Join(big, fmt.Sprintf("f%05d", i)) }
	changed := map[string]bool{}
	for _, i := range []int{3, 1100, 2400} { // one in each batch
		treediff.ChangeEveryWay(t, [4]string{p(i), p(i + 1), p(i + 2), p(i + 3)}, filepath.Join(big, fmt.Sprintf("g%05d", i)))
		for d := range 4 {
			changed[fmt.Sprintf("f%05d", i+d)] = true
		}
	}
	sameSizeSameMtime(t, filepath.Join(nested, "n050"))
	inodes := map[string]uint64{}
	for i := range 2500 {
		if n := fmt.Sprintf("f%05d", i); !changed[n] {
			inodes[n], _ = ino(t, p(i))
		}
	}

	res := restore(t, root, idx, file)
	if res.Fallback != "" {
		t.Fatalf("fell back: %s", res.Fallback)
	}
	treediff.AssertSame(t, want, treediff.Of(t, root), opts)
	if res.Rewritten != 13 || res.Removed != 3 {
		t.Errorf("%s, %d removed; want 13 rewritten (4 in each batch, 1 nested) and the 3 added removed", res.Progress(), res.Removed)
	}
	for n, was := range inodes {
		if now, _ := ino(t, filepath.Join(big, n)); now != was {
			t.Errorf("%s was rewritten (inode %d, was %d)", n, now, was)
		}
	}
}
