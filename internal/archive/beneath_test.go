//go:build linux || darwin

package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// beneathRig is a project dir holding docker-config/adapters/config.toml (a single-file
// bind source) and, outside it, a file no restore or backup of the project may touch.
type beneathRig struct {
	proj, conf, outside string
}

func newBeneathRig(t *testing.T) beneathRig {
	t.Helper()
	base := t.TempDir()
	r := beneathRig{proj: filepath.Join(base, "proj"), outside: filepath.Join(base, "home", "authorized_keys")}
	r.conf = filepath.Join(r.proj, "docker-config", "adapters", "config.toml")
	for _, d := range []string{filepath.Dir(r.conf), filepath.Dir(r.outside)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(r.conf, []byte("[inner]\nversion = \"1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.outside, []byte("ssh-ed25519 SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r beneathRig) beneath() *fsaccess.Beneath { return &fsaccess.Beneath{Dir: r.proj} }

// swapFile replaces the single-file source by a symlink to target (what a service that can
// write the bind dir above it does between the plan and the read or write).
func swapFile(t *testing.T, p, target string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// swapDir replaces the source's parent dir by a symlink to target.
func swapDir(t *testing.T, dir, target string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
}

func packFile(root string, b *fsaccess.Beneath) ([]byte, error) {
	var buf bytes.Buffer
	_, err := WriteTar(context.Background(), &buf, root, WriteOptions{Beneath: b})
	return buf.Bytes(), err
}

func singleFileArchive(t *testing.T, name, content string) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(src, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	data, err := packFile(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func extractFileTo(data []byte, dest string, b *fsaccess.Beneath) error {
	_, err := Extract(context.Background(), bytes.NewReader(data), dest, ExtractOptions{NoSameOwner: true, Beneath: b})
	return err
}

func assertEscape(t *testing.T, err error) {
	t.Helper()
	var esc *fsaccess.EscapeError
	if !errors.As(err, &esc) {
		t.Fatalf("want an *fsaccess.EscapeError, got %v", err)
	}
}

func assertContent(t *testing.T, p, want string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("%s holds %q, want %q", p, b, want)
	}
}

// The read of a single-file source swapped for a symlink leading out of the project after
// the plan is refused: the outside file's content never reaches the archive.
func TestWriteTarBeneathRefusesLinkOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		swap func(r beneathRig)
	}{
		{"file to absolute link", func(r beneathRig) { swapFile(t, r.conf, r.outside) }},
		{"file to relative link", func(r beneathRig) {
			rel, _ := filepath.Rel(filepath.Dir(r.conf), r.outside)
			swapFile(t, r.conf, rel)
		}},
		{"parent dir to link", func(r beneathRig) {
			if err := os.Rename(r.outside, filepath.Join(filepath.Dir(r.outside), "config.toml")); err != nil {
				t.Fatal(err)
			}
			swapDir(t, filepath.Dir(r.conf), filepath.Dir(r.outside))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newBeneathRig(t)
			tc.swap(r)
			data, err := packFile(r.conf, r.beneath())
			assertEscape(t, err)
			if bytes.Contains(data, []byte("SECRET")) {
				t.Fatal("the outside file was read into the archive")
			}
		})
	}
}

// A restore through a single-file source swapped for a symlink leading out of the project
// refuses without writing: the outside file keeps its content.
func TestExtractBeneathRefusesLinkOut(t *testing.T) {
	data := singleFileArchive(t, "config.toml", "ROLLED BACK\n")
	for _, tc := range []struct {
		name string
		swap func(r beneathRig)
		kept string // the outside file that must keep its content
	}{
		{"file to absolute link", func(r beneathRig) { swapFile(t, r.conf, r.outside) }, ""},
		{"parent dir to link", func(r beneathRig) { swapDir(t, filepath.Dir(r.conf), filepath.Dir(r.outside)) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newBeneathRig(t)
			tc.swap(r)
			err := extractFileTo(data, r.conf, r.beneath())
			assertEscape(t, err)
			assertContent(t, r.outside, "ssh-ed25519 SECRET\n")
			ents, _ := os.ReadDir(filepath.Dir(r.outside))
			if len(ents) != 1 {
				t.Fatalf("the outside dir holds %d entries, want only the file", len(ents))
			}
		})
	}
}

// A symlink that stays inside the project is still followed, as documented: the read
// archives the file it leads to under the source's name, the write replaces that file and
// keeps the link; an absolute link naming the project's own path counts as inside.
func TestBeneathFollowsLinkInside(t *testing.T) {
	for _, abs := range []bool{false, true} {
		r := newBeneathRig(t)
		shared := filepath.Join(r.proj, "shared", "config.toml")
		if err := os.MkdirAll(filepath.Dir(shared), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shared, []byte("shared\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		target := "../../shared/config.toml"
		if abs {
			target = shared
		}
		swapFile(t, r.conf, target)
		data, err := packFile(r.conf, r.beneath())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte("shared\n")) || !bytes.Contains(data, []byte("config.toml")) {
			t.Fatal("the archive lacks the linked file")
		}
		if err := extractFileTo(singleFileArchive(t, "config.toml", "new\n"), r.conf, r.beneath()); err != nil {
			t.Fatal(err)
		}
		assertContent(t, shared, "new\n")
		if fi, err := os.Lstat(r.conf); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("the link was replaced: %v %v", fi, err)
		}
	}
}

// A FIFO or a directory swapped in for the file is refused at once, never read from (no
// hang waiting for a writer).
func TestWriteTarBeneathRefusesFIFO(t *testing.T) {
	r := newBeneathRig(t)
	if err := os.Remove(r.conf); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(r.conf, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := packFile(r.conf, r.beneath()); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("want not a regular file, got %v", err)
		}
	case <-time.After(time.Minute): // a safety net only: the read must not block at all
		t.Fatal("reading a FIFO blocked")
	}
}

// A dangling link at the destination is refused, never replaced, as without Beneath.
func TestExtractBeneathRefusesDanglingLink(t *testing.T) {
	r := newBeneathRig(t)
	swapFile(t, r.conf, "missing.toml")
	err := extractFileTo(singleFileArchive(t, "config.toml", "x\n"), r.conf, r.beneath())
	if err == nil || !strings.Contains(err.Error(), "does not lead to a file") {
		t.Fatalf("want a refusal, got %v", err)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(r.conf), "missing.toml")); !os.IsNotExist(err) {
		t.Fatal("the link's target was created")
	}
}
