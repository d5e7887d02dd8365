package seektar_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/seektar"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
)

// tree writes a tree with every kind of entry the archive holds.
func tree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "d/e"), 0o755))
	big := bytes.Repeat([]byte("0123456789abcdef"), 300<<10) // 4.8 MiB: several frames
	must(os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644))
	for i, n := range []string{"a.txt", "d/b.txt", "d/e/c.txt", "d-x.txt"} {
		must(os.WriteFile(filepath.Join(root, n), []byte(strings.Repeat(n, i+1)), 0o640))
	}
	must(os.Link(filepath.Join(root, "a.txt"), filepath.Join(root, "d/hard.txt")))
	must(os.Symlink("../a.txt", filepath.Join(root, "d/link")))
	f, err := os.Create(filepath.Join(root, "sparse.img"))
	must(err)
	_, err = f.WriteAt([]byte("tail"), 8<<20)
	must(err)
	must(f.Close())
	return root
}

// TestSeekableArchive: a tar.zst written by WriteTar through Compress carries the entry
// table: every entry of the archive, in order, each read back alone at its offset through
// the seek table with its content; and the zstd and tar command lines still read the file
// as the plain tar.zst it always was.
func TestSeekableArchive(t *testing.T) {
	root := tree(t)
	file := filepath.Join(t.TempDir(), "a.tar.zst")
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := archive.Compress(out, archive.Zstd, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := archive.WriteTar(context.Background(), cw, root, archive.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	a, err := seektar.Open(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var names []string
	var offs []int64
	if err := a.Entries(func(name string, off int64) bool {
		names, offs = append(names, name), append(offs, off)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if int64(len(names)) != st.Entries || names[0] != "./" {
		t.Fatalf("entry table: %d entries %v, the archive holds %d", len(names), names, st.Entries)
	}
	// Backwards, so nothing relies on reading in order.
	for i := len(names) - 1; i >= 0; i-- {
		h, r, err := a.Entry(offs[i], names[i])
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != '0' {
			continue
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(root, strings.TrimPrefix(names[i], "./")))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s read at %d: %d bytes, differ from the file's %d", names[i], offs[i], len(got), len(want))
		}
	}
	if _, _, err := a.Entry(offs[1], names[2]); err == nil {
		t.Fatal("Entry with a name the archive does not have at that offset succeeded")
	}

	// The command lines read it as before.
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("no zstd command")
	}
	dest := filepath.Join(t.TempDir(), "x")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("sh", "-c", `zstd -dc "$1" | tar -x --sparse -C "$2"`, "sh", file, dest).CombinedOutput(); err != nil {
		t.Fatalf("zstd -dc | tar -x: %v: %s", err, b)
	}
	if b, err := exec.Command("zstd", "-t", file).CombinedOutput(); err != nil {
		t.Fatalf("zstd -t: %v: %s", err, b)
	}
	treediff.AssertSame(t, treediff.Of(t, root), treediff.Of(t, dest), treediff.Options{IgnoreOwner: true, NoXattrs: true})
}

// TestOpenRefusesOthers: archives without the tables (gzip, a plain zstd stream, a cut file)
// are not seekable.
func TestOpenRefusesOthers(t *testing.T) {
	root := tree(t)
	for _, c := range []archive.Compression{archive.Gzip, archive.None} {
		var b bytes.Buffer
		cw, _ := archive.Compress(&b, c, 0)
		if _, err := archive.WriteTar(context.Background(), cw, root, archive.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		cw.Close()
		if _, err := seektar.Open(bytes.NewReader(b.Bytes()), int64(b.Len())); err == nil {
			t.Fatalf("%s archive opened as seekable", c)
		}
	}
	var b bytes.Buffer
	cw, _ := archive.Compress(&b, archive.Zstd, 0)
	if _, err := archive.WriteTar(context.Background(), cw, root, archive.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	cw.Close()
	full := b.Bytes()
	for _, n := range []int{len(full) - 1, len(full) - 30, len(full) / 2} {
		if _, err := seektar.Open(bytes.NewReader(full[:n]), int64(n)); err == nil {
			t.Fatalf("archive cut to %d of %d bytes opened", n, len(full))
		}
	}
}
