//go:build linux

package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// ageCtime waits until every ctime set so far is safely before the next pass's threshold.
func ageCtime() { time.Sleep(treeindex.CtimeMargin + 1500*time.Millisecond) }

// twoPass runs pass one and, after between ran, pass two of src; it returns both archives
// and pass two's stats.
func twoPass(t *testing.T, src string, between func()) (base, second []byte, idx *Index, st Stats) {
	t.Helper()
	idx = NewIndex()
	var b, d bytes.Buffer
	_, err := WriteTar(context.Background(), &b, src, WriteOptions{Record: idx})
	must(t, err)
	between()
	// The index travels between the passes: round trip it.
	var ib bytes.Buffer
	_, err = idx.WriteTo(&ib)
	must(t, err)
	idx2, err := ReadIndex(&ib)
	must(t, err)
	if idx2.OnePass != idx.OnePass {
		t.Fatalf("index round trip: one-pass reason %q, want %q", idx2.OnePass, idx.OnePass)
	}
	st, err = WriteTar(context.Background(), &d, src, WriteOptions{Since: idx2})
	must(t, err)
	return b.Bytes(), d.Bytes(), idx, st
}

// TestTwoPassSharedMmapWrite: a page of a MAP_SHARED mapping dirtied before pass one and
// written again after it (no syscall, no page fault while the page stays dirty and writable)
// is in the delta: pass one wrote dirty pages back first, so the second write faulted and
// moved the file's ctime.
func TestTwoPassSharedMmapWrite(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	var sfs unix.Statfs_t
	must(t, unix.Statfs(src, &sfs))
	if reason := fsaccess.InexactFS(&sfs); reason != "" {
		t.Skipf("the temp dir is on %s: this test needs a file system with writeback", reason)
	}
	p := filepath.Join(src, "data.mdb")
	must(t, os.WriteFile(p, make([]byte, 64<<10), 0o644))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 64<<10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	must(t, err)
	defer unix.Munmap(m)
	copy(m[4096:], "dirty before pass one")
	ageCtime()
	base, delta, idx, st := twoPass(t, src, func() {
		copy(m[4096:], "written again after it")
	})
	if idx.OnePass != "" {
		t.Fatalf("pass one on an exact file system went one pass: %s", idx.OnePass)
	}
	if !st.Delta || st.Files != 1 {
		t.Fatalf("pass two: %+v, want a delta holding the mmapped file", st)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	extractAll(t, dest, base, delta)
	got, err := os.ReadFile(filepath.Join(dest, "data.mdb"))
	must(t, err)
	if !bytes.Equal(got, m) {
		t.Fatalf("restored %q, want %q", got[4096:4096+22], m[4096:4096+22])
	}
}

// mountTmpfs mounts a tmpfs at dir (root only) and unmounts it at the end of the test.
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	must(t, os.MkdirAll(dir, 0o755))
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

// TestTmpfsGoesOnePass: a tmpfs has no writeback, so writes through a shared mapping never
// fault again and move no ctime: a source on one (or holding one) is taken in one pass, the
// second (stopped) archive whole, and says why.
func TestTmpfsGoesOnePass(t *testing.T) {
	for _, nested := range []bool{false, true} {
		name := "root"
		if nested {
			name = "nested"
		}
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			shm := src
			if nested {
				must(t, os.MkdirAll(filepath.Join(src, "a"), 0o755))
				must(t, os.WriteFile(filepath.Join(src, "a", "f"), []byte("on disk"), 0o644))
				shm = filepath.Join(src, "b-shm")
			}
			mountTmpfs(t, shm)
			p := filepath.Join(shm, "kafka.index")
			must(t, os.WriteFile(p, make([]byte, 16<<10), 0o644))
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			must(t, err)
			defer f.Close()
			m, err := unix.Mmap(int(f.Fd()), 0, 16<<10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			must(t, err)
			defer unix.Munmap(m)
			copy(m, "dirty before pass one")
			ageCtime()
			_, second, idx, st := twoPass(t, src, func() { copy(m, "written again after it") })
			if !strings.Contains(idx.OnePass, "tmpfs") || (nested && !strings.Contains(idx.OnePass, "b-shm")) {
				t.Fatalf("pass one's one-pass reason: %q, want one naming tmpfs (and b-shm when nested)", idx.OnePass)
			}
			if st.Delta || st.OnePass != idx.OnePass {
				t.Fatalf("pass two: delta %v, one-pass %q: want the whole archive and the reason", st.Delta, st.OnePass)
			}
			dest := filepath.Join(t.TempDir(), "dest")
			_, err = Extract(context.Background(), bytes.NewReader(second), dest, ExtractOptions{})
			must(t, err)
			if d := diffTrees(snapshot(t, src), snapshot(t, dest), false); d != "" {
				t.Fatalf("restore of the one-pass source differs:\n%s", d)
			}
		})
	}
}
