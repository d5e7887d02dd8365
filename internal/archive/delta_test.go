//go:build linux || darwin

package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/treeindex"
	"golang.org/x/sys/unix"
)

// hotTree builds the source of a two-pass test: every kind of thing (makeTree) and many small
// files for pass one to read while they change.
func hotTree(t *testing.T, dir string) {
	t.Helper()
	makeTree(t, dir)
	must(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	for i := range 400 {
		must(t, os.WriteFile(filepath.Join(dir, "data", fmt.Sprintf("f%03d", i)), bytes.Repeat([]byte{byte(i)}, 1000+i), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(dir, "data", "pair"), []byte("pair"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "gone", "x", "y"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "gone", "x", "y", "z"), []byte("z"), 0o644))
	// ctime cannot be set: the tests wait out the margin after building the tree so that
	// untouched files count as untouched.
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sameSizeSameMtime rewrites p with other bytes of the same length and puts its mtime back:
// only the ctime tells.
func sameSizeSameMtime(t *testing.T, p string) { treediff.SameSizeSameMtime(t, p) }

// mutations change the tree in every way a running service (or its admin) might, one step
// per call, while pass one reads it.
func mutations(t *testing.T, dir string) []func() {
	p := func(rel string) string { return filepath.Join(dir, rel) }
	return []func(){
		func() { sameSizeSameMtime(t, p("a/b/c/deep.txt")) }, // just read, same second as the start
		func() { sameSizeSameMtime(t, p("a/private")) },      // archived already
		func() { must(t, os.WriteFile(p("data/f005"), []byte("appended and rewritten"), 0o644)) },
		func() { must(t, os.Truncate(p("big.log"), 1234)) },
		func() { must(t, os.Rename(p("data/f010"), p("data/zz-renamed"))) },
		func() { must(t, os.Rename(p("data/f300"), p("a/moved"))) }, // to a place already walked
		func() { must(t, os.Remove(p("data/f020"))) },
		func() { must(t, os.Remove(p("data/f350"))) },
		func() {
			must(t, os.MkdirAll(p("new-dir/sub"), 0o700))
			must(t, os.WriteFile(p("new-dir/sub/x"), []byte("x"), 0o600))
		},
		func() { must(t, os.RemoveAll(p("gone"))) },
		func() {
			must(t, os.Remove(p("empty-dir")))
			must(t, os.WriteFile(p("empty-dir"), []byte("now a file"), 0o644))
		},
		func() {
			must(t, os.Remove(p("with space")))
			must(t, os.MkdirAll(p("with space/inner"), 0o755))
		},
		func() { must(t, os.Chmod(p("data/f100"), 0o600)) },
		func() { must(t, os.Link(p("data/f200"), p("data/f200-link"))) },
		func() { must(t, os.Link(p("data/pair"), p("a/pair-early"))) }, // an old inode, linked where the walk has been
		func() { sameSizeSameMtime(t, p("data/f399")) },                // not archived yet
		func() {
			must(t, os.Remove(p("a/rel-link")))
			must(t, os.Symlink("elsewhere", p("a/rel-link")))
		},
		func() {
			if err := unix.Setxattr(p("data/f150"), "user.late", []byte("v"), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				t.Fatal(err)
			}
		},
		func() { must(t, os.WriteFile(p("data/f001"), bytes.Repeat([]byte{1}, 10), 0o644)) }, // truncate-then-write
		func() { must(t, os.RemoveAll(p("hard"))) },
		func() { must(t, os.Rename(p("data/f390"), p("data/f391"))) }, // over a file not yet read
	}
}

func extractAll(t *testing.T, dest string, archives ...[]byte) {
	t.Helper()
	for i, a := range archives {
		var err error
		if i == 0 {
			_, err = Extract(context.Background(), bytes.NewReader(a), dest, ExtractOptions{AllowDevices: true})
		} else {
			_, err = ApplyDelta(context.Background(), bytes.NewReader(a), dest, ExtractOptions{AllowDevices: true})
		}
		must(t, err)
	}
}

// TestTwoPassEqualsCold: a tree changed in every way while pass one reads it (writes in the
// same second as the pass starts, renames, truncations, deletions, a file rewritten with its
// size and mtime put back), then pass two; base plus delta restore to exactly what a cold
// archive of the final tree restores to.
func TestTwoPassEqualsCold(t *testing.T) {
	for _, lag := range []time.Duration{0, 900 * time.Millisecond} {
		t.Run(fmt.Sprintf("clock-lag-%v", lag), func(t *testing.T) {
			tmp := t.TempDir()
			src := filepath.Join(tmp, "src")
			hotTree(t, src)
			// Untouched files must have a ctime well before pass one: wait out the margin.
			time.Sleep(treeindex.CtimeMargin + time.Second)
			steps := mutations(t, src)
			// A write in the same second as the pass starts, just before it.
			must(t, os.WriteFile(filepath.Join(src, "data", "f002"), []byte("just before"), 0o644))
			calls := 0
			idx := NewIndex()
			var base bytes.Buffer
			_, err := WriteTar(context.Background(), &base, src, WriteOptions{Record: idx, Progress: func(int64) {
				// One change every few files read, the first at once (same second as the start).
				if calls%15 == 0 && len(steps) > 0 {
					steps[0]()
					steps = steps[1:]
				}
				calls++
			}})
			must(t, err)
			for _, s := range steps {
				s()
			}
			// A coarse clock: the pass's start as seen by the file system can be later than
			// the ctimes of writes made after it.
			idx.Start = idx.Start.Add(lag)

			// The index travels between passes (helper container): round trip it.
			var ib bytes.Buffer
			_, err = idx.WriteTo(&ib)
			must(t, err)
			idx2, err := ReadIndex(&ib)
			must(t, err)
			if !idx2.Start.Equal(idx.Start) || !reflect.DeepEqual(idx2.Entries, idx.Entries) {
				t.Fatal("index round trip differs")
			}

			var delta, cold bytes.Buffer
			dst, err := WriteTar(context.Background(), &delta, src, WriteOptions{Since: idx2})
			must(t, err)
			cst, err := WriteTar(context.Background(), &cold, src, WriteOptions{})
			must(t, err)
			if !dst.Delta || dst.Files >= cst.Files/2 || dst.Deleted == 0 {
				t.Fatalf("delta holds %d files, %d deletions (delta %v); cold %d files: not a delta", dst.Files, dst.Deleted, dst.Delta, cst.Files)
			}
			sst, err := Scan(bytes.NewReader(delta.Bytes()))
			must(t, err)
			if !sst.Delta || sst.Deleted != dst.Deleted {
				t.Fatalf("scan of the delta: %+v", sst)
			}
			if _, err := Extract(context.Background(), bytes.NewReader(delta.Bytes()), filepath.Join(tmp, "x"), ExtractOptions{}); !errors.Is(err, ErrDelta) {
				t.Fatalf("Extract of a delta: %v, want ErrDelta", err)
			}

			two, one := filepath.Join(tmp, "two"), filepath.Join(tmp, "one")
			extractAll(t, two, base.Bytes(), delta.Bytes())
			extractAll(t, one, cold.Bytes())
			want := snapshot(t, src)
			if d := diffTrees(want, snapshot(t, one), false); d != "" {
				t.Fatalf("cold restore differs from the source:\n%s", d)
			}
			if d := diffTrees(snapshot(t, one), snapshot(t, two), false); d != "" {
				t.Fatalf("two-pass restore differs from the cold one:\n%s", d)
			}
			// Applying the delta over a base restored onto older data (a restore in place) is
			// as exact: dest held the final tree plus junk before the base was extracted.
			extractAll(t, one, base.Bytes(), delta.Bytes())
			if d := diffTrees(want, snapshot(t, one), false); d != "" {
				t.Fatalf("two-pass restore in place differs:\n%s", d)
			}
		})
	}
}

// TestDeltaNothingChanged: a quiet tree gives a delta with no file content and no deletions.
func TestDeltaNothingChanged(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	hotTree(t, src)
	must(t, os.RemoveAll(filepath.Join(src, "hard"))) // hardlinks are always rewritten
	time.Sleep(treeindex.CtimeMargin + time.Second)
	idx := NewIndex()
	_, err := WriteTar(context.Background(), io_discard{}, src, WriteOptions{Record: idx})
	must(t, err)
	st, err := WriteTar(context.Background(), io_discard{}, src, WriteOptions{Since: idx})
	must(t, err)
	if st.Files != 0 || st.Deleted != 0 || st.Bytes != 0 {
		t.Fatalf("quiet tree: delta %+v", st)
	}
}

type io_discard struct{}

func (io_discard) Write(p []byte) (int, error) { return len(p), nil }

// TestDeltaCtimeThreshold: a file whose recorded metadata matches is still changed when its
// ctime is at or after pass one's start at the file system's granularity (same second, a
// coarse clock behind the wall clock); only a ctime safely before the start counts as quiet.
func TestDeltaCtimeThreshold(t *testing.T) {
	start := time.Unix(1700000000, 300_000_000)
	idx := &Index{Start: start, Entries: map[string]IndexEntry{}}
	d := &deltaState{since: idx, threshold: idx.Threshold()}
	for _, c := range []struct {
		ctime   time.Time
		changed bool
	}{
		{start.Add(time.Millisecond), true},
		{start.Add(-100 * time.Millisecond), true},  // same second, a coarse clock behind
		{start.Add(-1500 * time.Millisecond), true}, // the second before
		{start.Add(-3 * time.Second), false},
	} {
		e := IndexEntry{Mode: unix.S_IFREG | 0o644, Size: 1, Mtime: 1, Ctime: c.ctime.UnixNano(), Ino: 7}
		idx.Entries["f"] = e
		if got := d.changed("f", e, 1); got != c.changed {
			t.Errorf("ctime %v (start %v): changed %v, want %v", c.ctime.Sub(start), start, got, c.changed)
		}
	}
}
