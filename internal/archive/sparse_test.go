//go:build linux

package archive

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// sparseFile writes a 64 MiB file with two 4 KiB extents of data and the rest a hole.
func sparseFile(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt(bytes.Repeat([]byte("a"), 4096), 8192)
	must(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte("z"), 4096), 64<<20-4096)
	must(t, err)
}

func blocks(t *testing.T, p string) (size, allocated int64) {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	return st.Size, st.Blocks * 512
}

// TestSparseRoundTrip: a sparse file is archived without its holes (GNU sparse 1.0 in PAX)
// and restored with them, by Extract, through a two-pass delta and by GNU tar.
func TestSparseRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	must(t, os.MkdirAll(src, 0o755))
	sparseFile(t, filepath.Join(src, "disk.img"))
	size, alloc := blocks(t, filepath.Join(src, "disk.img"))
	if alloc >= size/4 {
		t.Skipf("the temp dir's file system does not keep holes (%d of %d bytes allocated)", alloc, size)
	}
	want, err := os.ReadFile(filepath.Join(src, "disk.img"))
	must(t, err)
	check := func(t *testing.T, dest string) {
		t.Helper()
		p := filepath.Join(dest, "disk.img")
		got, err := os.ReadFile(p)
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("restored content differs (%d bytes, want %d)", len(got), len(want))
		}
		if _, a := blocks(t, p); a > alloc {
			t.Fatalf("restored file has %d bytes allocated, the source %d: holes were filled", a, alloc)
		}
	}

	var tarball bytes.Buffer
	_, err = WriteTar(context.Background(), &tarball, src, WriteOptions{})
	must(t, err)
	if tarball.Len() > 1<<20 {
		t.Fatalf("the archive of a file with 8 KiB of data is %d bytes: holes were stored", tarball.Len())
	}
	if _, err := Scan(bytes.NewReader(tarball.Bytes())); err != nil {
		t.Fatal(err)
	}
	t.Run("extract", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "dest")
		extractAll(t, dest, tarball.Bytes())
		check(t, dest)
		if d := diffTrees(snapshot(t, src), snapshot(t, dest), false); d != "" {
			t.Fatalf("restore differs:\n%s", d)
		}
	})
	t.Run("two-pass", func(t *testing.T) {
		ageCtime()
		base, delta, _, st := twoPass(t, src, func() {
			f, err := os.OpenFile(filepath.Join(src, "disk.img"), os.O_RDWR, 0)
			must(t, err)
			_, err = f.WriteAt([]byte("changed"), 8192)
			must(t, err)
			f.Close()
			want, err = os.ReadFile(filepath.Join(src, "disk.img"))
			must(t, err)
		})
		if !st.Delta || st.Files != 1 || len(delta) > 1<<20 {
			t.Fatalf("delta of one changed sparse file: %+v, %d bytes", st, len(delta))
		}
		dest := filepath.Join(t.TempDir(), "dest")
		extractAll(t, dest, base, delta)
		check(t, dest)
	})
	t.Run("gnu-tar", func(t *testing.T) {
		if _, err := exec.LookPath("tar"); err != nil {
			t.Skip("no tar")
		}
		if _, err := exec.LookPath("zstd"); err != nil {
			t.Skip("no zstd")
		}
		data, _ := pack(t, src, Zstd, WriteOptions{})
		file := filepath.Join(t.TempDir(), "a.tar.zst")
		must(t, os.WriteFile(file, data, 0o600))
		dest := t.TempDir()
		if out, err := exec.Command("tar", "--zstd", "-xf", file, "-C", dest).CombinedOutput(); err != nil {
			t.Fatalf("tar --zstd -xf: %v\n%s", err, out)
		}
		want, err = os.ReadFile(filepath.Join(src, "disk.img"))
		must(t, err)
		check(t, dest)
	})
}
