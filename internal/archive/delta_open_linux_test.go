package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/treeindex"
	"golang.org/x/sys/unix"
)

// TestDeltaUnchangedNotOpened: pass two opens only the files its base does not have as they
// are (inotify's IN_OPEN, from the kernel, names every open): a file rewritten since pass
// one and a file swapped for another of the same size and mtime (a rename over it: a new
// inode, which only the lstat can tell) are opened and archived; the 48 untouched ones are
// decided on their lstat alone (tarWriter.unchangedAtLstat) and recorded in the final index
// as they are.
func TestDeltaUnchangedNotOpened(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	data := filepath.Join(src, "data")
	must(t, os.MkdirAll(data, 0o755))
	for i := range 50 {
		must(t, os.WriteFile(filepath.Join(data, fmt.Sprintf("f%03d", i)), bytes.Repeat([]byte{byte(i)}, 100+i), 0o644))
	}
	time.Sleep(treeindex.CtimeMargin + time.Second)
	idx := NewIndex()
	_, err := WriteTar(context.Background(), io_discard{}, src, WriteOptions{Record: idx})
	must(t, err)

	must(t, os.WriteFile(filepath.Join(data, "f005"), []byte("rewritten"), 0o644))
	old := filepath.Join(data, "f010")
	var st unix.Stat_t
	must(t, unix.Lstat(old, &st))
	must(t, os.WriteFile(old+".new", bytes.Repeat([]byte{0xee}, int(st.Size)), 0o644))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, old+".new", []unix.Timespec{st.Atim, st.Mtim}, 0))
	must(t, os.Rename(old+".new", old))

	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	must(t, err)
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, data, unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	final := NewIndex()
	var out bytes.Buffer
	got, err := WriteTar(context.Background(), &out, src, WriteOptions{Since: idx, Final: final})
	must(t, err)

	var opened []string
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:])) // struct inotify_event's len
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+nameLen], "\x00"))
			if name != "" {
				opened = append(opened, name)
			}
			off += unix.SizeofInotifyEvent + nameLen
		}
	}
	slices.Sort(opened)
	if want := []string{"f005", "f010"}; !slices.Equal(opened, want) {
		t.Errorf("pass two opened %v, want %v (the changed ones only)", opened, want)
	}
	if got.Files != 2 {
		t.Errorf("pass two archived %d files, want 2", got.Files)
	}
	for i := range 50 {
		rel := fmt.Sprintf("data/f%03d", i)
		var now unix.Stat_t
		must(t, unix.Lstat(filepath.Join(src, rel), &now))
		if final.Entries[rel] != indexEntry(&now) {
			t.Errorf("final index %s: %+v, want %+v", rel, final.Entries[rel], indexEntry(&now))
		}
	}
}

// TestDeltaSwapAfterLstat breaks unchangedAtLstat's condition: a file is renamed over an
// untouched path between pass two's lstat of it and the open the slow path would make. The
// fast path decided on the lstat: the newcomer is not in this delta (the slow path would
// have archived it), and the final index records the file it decided on, not the newcomer,
// so the next delta against that index archives the newcomer: nothing is lost for good,
// and the final index never claims what the backup does not hold.
func TestDeltaSwapAfterLstat(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	for _, n := range []string{"a", "b", "c"} {
		must(t, os.WriteFile(filepath.Join(src, n), []byte("old "+n), 0o644))
	}
	time.Sleep(treeindex.CtimeMargin + time.Second)
	idx := NewIndex()
	_, err := WriteTar(context.Background(), io_discard{}, src, WriteOptions{Record: idx})
	must(t, err)

	target := filepath.Join(src, "b")
	var before unix.Stat_t
	must(t, unix.Lstat(target, &before))
	testAfterLstat = func(full string) {
		if full == target {
			must(t, os.WriteFile(target+".new", []byte("new b"), 0o644))
			must(t, os.Rename(target+".new", target))
		}
	}
	final := NewIndex()
	st, err := WriteTar(context.Background(), io_discard{}, src, WriteOptions{Since: idx, Final: final})
	testAfterLstat = nil
	must(t, err)
	if st.Files != 0 {
		t.Errorf("the delta archived %d files: the swap after the lstat was seen, want it unseen by this pass", st.Files)
	}
	if final.Entries["b"] != indexEntry(&before) {
		t.Errorf("final index b: %+v, want the file the pass decided on %+v", final.Entries["b"], indexEntry(&before))
	}
	var out bytes.Buffer
	next, err := WriteTar(context.Background(), &out, src, WriteOptions{Since: final})
	must(t, err)
	if next.Files != 1 || !bytes.Contains(out.Bytes(), []byte("new b")) {
		t.Errorf("the next delta archived %d files (has the newcomer: %v), want the newcomer b", next.Files, bytes.Contains(out.Bytes(), []byte("new b")))
	}
}

// TestTwoPassLargeDirBatches: pass two stats a directory of 2,500 files in batches on all
// cores (fsaccess.StatNames, three batches). Changes in every batch (rewritten with size and
// mtime put back, removed, swapped for a symlink, made a directory, added) and a
// directory removed after it was listed: base plus delta restore to exactly what a cold
// archive restores to.
func TestTwoPassLargeDirBatches(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	big := filepath.Join(src, "big")
	must(t, os.MkdirAll(filepath.Join(big, "sub"), 0o755))
	for i := range 2500 {
		must(t, os.WriteFile(filepath.Join(big, fmt.Sprintf("f%05d", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644))
	}
	for i := range 80 {
		must(t, os.WriteFile(filepath.Join(big, "sub", fmt.Sprintf("s%03d", i)), []byte("s"), 0o644))
	}
	time.Sleep(treeindex.CtimeMargin + time.Second)
	idx := NewIndex()
	var base bytes.Buffer
	_, err := WriteTar(context.Background(), &base, src, WriteOptions{Record: idx})
	must(t, err)

	p := func(i int) string { return filepath.Join(big, fmt.Sprintf("f%05d", i)) }
	for _, i := range []int{5, 1500, 2450} {
		treediff.ChangeEveryWay(t, [4]string{p(i), p(i + 1), p(i + 2), p(i + 3)}, filepath.Join(big, fmt.Sprintf("g%05d", i)))
	}
	must(t, os.RemoveAll(filepath.Join(big, "sub")))

	var delta, cold bytes.Buffer
	dst, err := WriteTar(context.Background(), &delta, src, WriteOptions{Since: idx})
	must(t, err)
	_, err = WriteTar(context.Background(), &cold, src, WriteOptions{})
	must(t, err)
	if dst.Files > 20 || dst.Deleted == 0 {
		t.Errorf("delta: %d files, %d deletions; want the dozen changes and the deletions only", dst.Files, dst.Deleted)
	}
	two, one := filepath.Join(tmp, "two"), filepath.Join(tmp, "one")
	extractAll(t, two, base.Bytes(), delta.Bytes())
	extractAll(t, one, cold.Bytes())
	if d := diffTrees(snapshot(t, src), snapshot(t, one), false); d != "" {
		t.Fatalf("cold restore differs from the source:\n%s", d)
	}
	if d := diffTrees(snapshot(t, one), snapshot(t, two), false); d != "" {
		t.Fatalf("two-pass restore differs from the cold one:\n%s", d)
	}
}
