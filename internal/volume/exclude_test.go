package volume

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
)

// tarNames lists the entry names of an uncompressed tar.
func tarEntryNames(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

// engineTar is the tree at dir as the engine's archive API yields it: "data/" rooted, in
// walk order.
func engineTar(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		name := filepath.ToSlash(filepath.Join("data", rel))
		h := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), Typeflag: tar.TypeReg}
		if d.IsDir() {
			h.Name, h.Typeflag = name+"/", tar.TypeDir
		} else {
			h.Size = fi.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	return buf.Bytes()
}

// The archive-API path leaves out exactly what archive.WriteTar leaves out, exceptions
// included: an excluded directory's re-included contents are kept, the directory entry
// itself is not.
func TestReencodeExcludesAsWriteTar(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.log", "keep.log", "logs/x", "logs/keep/y", "cache/z", "sub/b.log",
		"web/node_modules/m.js", "web/app.js"} {
		p := filepath.Join(dir, f)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(f), 0o644))
	}
	excludes := []string{"*.log", "!keep.log", "logs", "!logs/keep", "/cache/", "**/node_modules"}
	want := []string{"./", "./keep.log", "./logs/keep/", "./logs/keep/y", "./sub/", "./sub/b.log", "./web/", "./web/app.js"}

	var direct bytes.Buffer
	if _, err := archive.WriteTar(context.Background(), &direct, dir, archive.WriteOptions{Excludes: excludes}); err != nil {
		t.Fatal(err)
	}
	if got := tarEntryNames(t, direct.Bytes()); !slices.Equal(got, want) {
		t.Errorf("WriteTar: %q, want %q", got, want)
	}
	var re bytes.Buffer
	tw := tar.NewWriter(&re)
	if _, err := reencode(context.Background(), tar.NewReader(bytes.NewReader(engineTar(t, dir))), tw, "", excludes, nil); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	if got := tarEntryNames(t, re.Bytes()); !slices.Equal(got, want) {
		t.Errorf("reencode: %q, want %q", got, want)
	}
	if _, err := reencode(context.Background(), tar.NewReader(bytes.NewReader(engineTar(t, dir))), tar.NewWriter(io.Discard), "", []string{"["}, nil); err == nil {
		t.Error("reencode accepted a bad pattern")
	}
}
