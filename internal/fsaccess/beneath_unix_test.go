//go:build linux || darwin

package fsaccess

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// relTo and Beneath.rel: a relative path is taken as is; an absolute one counts when it is
// Dir, lies beneath it or beneath one of its aliases, never by a mere name prefix.
func TestRel(t *testing.T) {
	b := &Beneath{Dir: "/run/proj", Aliases: []string{"", "/host/proj"}}
	for _, tc := range []struct {
		path string
		want []string
		ok   bool
	}{
		{"conf/a.toml", []string{"conf", "a.toml"}, true},
		{"../x", []string{"..", "x"}, true},
		{"/run/proj", nil, true},
		{"/run/proj/conf/a.toml", []string{"conf", "a.toml"}, true},
		{"/run/proj/", nil, true},
		{"/host/proj/a", []string{"a"}, true},
		{"/run/project/a", nil, false},
		{"/run", nil, false},
		{"/etc/passwd", nil, false},
	} {
		got, ok := b.rel(tc.path)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("rel(%q) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := relTo("/a/b", "/"); !ok || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf(`relTo("/a/b", "/") = %q, %v`, got, ok)
	}
}

// room is a directory with proj/conf/a.toml and, outside proj, home/secret.
type room struct{ base, proj, conf, secret string }

func newRoom(t *testing.T) room {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := room{base: base, proj: filepath.Join(base, "proj"), secret: filepath.Join(base, "home", "secret")}
	r.conf = filepath.Join(r.proj, "conf", "a.toml")
	for p, c := range map[string]string{r.conf: "inside\n", r.secret: "SECRET\n"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r room) beneath() *Beneath { return &Beneath{Dir: r.proj} }

// link replaces p by a symlink to target.
func link(t *testing.T, p, target string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, b *Beneath, p string) (string, error) {
	t.Helper()
	f, st, err := b.OpenFile(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st == nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("OpenFile(%s): stat %+v, want a regular file's", p, st)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(data), nil
}

func wantEscape(t *testing.T, err error, link string) {
	t.Helper()
	var esc *EscapeError
	if !errors.As(err, &esc) {
		t.Fatalf("want an *EscapeError, got %v", err)
	}
	if esc.Link != link {
		t.Fatalf("EscapeError.Link = %q, want %q (%v)", esc.Link, link, err)
	}
}

// OpenFile reads a file beneath Dir by a relative or an absolute name, through links that
// stay inside (relative, absolute naming Dir, absolute naming an alias), and refuses every
// way out: a path outside, ".." above Dir, a link out (absolute or relative), a link loop.
func TestOpenFile(t *testing.T) {
	t.Run("inside", func(t *testing.T) {
		r := newRoom(t)
		for _, p := range []string{r.conf, "conf/a.toml", "conf/../conf/./a.toml"} {
			if got, err := read(t, r.beneath(), p); err != nil || got != "inside\n" {
				t.Errorf("OpenFile(%s) = %q, %v", p, got, err)
			}
		}
		shared := filepath.Join(r.proj, "shared.toml")
		if err := os.WriteFile(shared, []byte("shared\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		alias := filepath.Join(r.base, "alias")
		if err := os.Symlink(r.proj, alias); err != nil {
			t.Fatal(err)
		}
		for _, target := range []string{"../shared.toml", shared, filepath.Join("/nowhere/proj", "shared.toml")} {
			link(t, r.conf, target)
			b := &Beneath{Dir: r.proj, Aliases: []string{"/nowhere/proj"}}
			if got, err := read(t, b, r.conf); err != nil || got != "shared\n" {
				t.Errorf("through a link to %s: %q, %v", target, got, err)
			}
		}
	})
	t.Run("outside", func(t *testing.T) {
		r := newRoom(t)
		_, err := read(t, r.beneath(), r.secret)
		wantEscape(t, err, "")
		_, err = read(t, r.beneath(), "../home/secret")
		wantEscape(t, err, "")
	})
	t.Run("link out", func(t *testing.T) {
		for _, target := range []string{"abs", "../../home/secret", "dir"} {
			r := newRoom(t)
			var l string
			switch target {
			case "abs":
				l = r.conf
				link(t, l, r.secret)
			case "dir":
				l = filepath.Dir(r.conf)
				if err := os.Rename(r.secret, filepath.Join(filepath.Dir(r.secret), "a.toml")); err != nil {
					t.Fatal(err)
				}
				link(t, l, filepath.Dir(r.secret))
			default:
				l = r.conf
				link(t, l, target)
			}
			got, err := read(t, r.beneath(), r.conf)
			wantEscape(t, err, l)
			if strings.Contains(got, "SECRET") {
				t.Fatalf("%s: the outside file was read", target)
			}
		}
	})
	t.Run("loop", func(t *testing.T) {
		r := newRoom(t)
		link(t, r.conf, "b")
		link(t, filepath.Join(filepath.Dir(r.conf), "b"), "a.toml")
		if _, err := read(t, r.beneath(), r.conf); !errors.Is(err, unix.ELOOP) {
			t.Fatalf("a link loop: %v, want ELOOP", err)
		}
	})
	t.Run("chain", func(t *testing.T) {
		// a chain of maxLinks links is followed, one more is refused, as the kernel does
		for _, n := range []int{maxLinks, maxLinks + 1} {
			r := newRoom(t)
			dir := filepath.Dir(r.conf)
			next := "a.toml"
			for i := range n {
				l := fmt.Sprintf("l%d", i)
				link(t, filepath.Join(dir, l), next)
				next = l
			}
			got, err := read(t, r.beneath(), filepath.Join(dir, next))
			if n == maxLinks && (err != nil || got != "inside\n") {
				t.Fatalf("%d links: %q, %v", n, got, err)
			}
			if n > maxLinks && !errors.Is(err, unix.ELOOP) {
				t.Fatalf("%d links: %v, want ELOOP", n, err)
			}
		}
	})
	t.Run("missing", func(t *testing.T) {
		r := newRoom(t)
		if _, err := read(t, r.beneath(), "conf/none"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a missing file: %v, want not exist", err)
		}
	})
}

// OpenFile refuses what is not a regular file at once: a FIFO (never opened for a read that
// would wait for a writer), a directory, Dir itself.
func TestOpenFileNotRegular(t *testing.T) {
	r := newRoom(t)
	fifo := filepath.Join(r.proj, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := read(t, r.beneath(), fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("a FIFO: %v, want not a regular file", err)
		}
	case <-time.After(time.Minute): // a safety net only: the open must not block at all
		t.Fatal("opening a FIFO blocked")
	}
	if _, err := read(t, r.beneath(), filepath.Dir(r.conf)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a directory: %v, want not a regular file", err)
	}
	if _, err := read(t, r.beneath(), r.proj); err == nil || !strings.Contains(err.Error(), "directory, not to a file") {
		t.Fatalf("Dir itself: %v, want a refusal", err)
	}
}

// replace writes content to dest through Dest and commits it.
func replace(t *testing.T, b *Beneath, dest, content string) error {
	t.Helper()
	d, err := b.Dest(dest)
	if err != nil {
		return err
	}
	defer d.Close()
	f, err := d.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := d.SetTimes(mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	return nil
}

// entries lists dir's names (a temporary file left behind shows here).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Dest replaces a file beneath Dir (created when missing) with its times, follows a link
// that stays inside and keeps it, and leaves no temporary file, committed or not.
func TestDest(t *testing.T) {
	r := newRoom(t)
	if err := replace(t, r.beneath(), r.conf, "new\n"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(r.conf)
	if err != nil || !fi.Mode().IsRegular() || fi.ModTime().Year() != 2020 {
		t.Fatalf("replaced file: %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(r.conf); string(b) != "new\n" {
		t.Fatalf("replaced file holds %q", b)
	}
	if err := replace(t, r.beneath(), "conf/fresh", "fresh\n"); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(r.proj, "shared.toml")
	if err := os.WriteFile(shared, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link(t, r.conf, "../shared.toml")
	if err := replace(t, r.beneath(), r.conf, "through\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(shared); string(b) != "through\n" {
		t.Fatalf("the file behind the link holds %q", b)
	}
	if fi, err := os.Lstat(r.conf); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", fi, err)
	}
	if got := entries(t, filepath.Dir(r.conf)); !reflect.DeepEqual(got, []string{"a.toml", "fresh"}) {
		t.Fatalf("conf holds %q: a temporary file was left", got)
	}
	// not committed: Close removes the temporary file, the destination is untouched
	d, err := r.beneath().Dest(shared)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != shared {
		t.Errorf("Name() = %q, want %q", d.Name(), shared)
	}
	f, err := d.Create()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	d.Close()
	if got := entries(t, r.proj); !reflect.DeepEqual(got, []string{"conf", "shared.toml"}) {
		t.Fatalf("proj holds %q after an uncommitted Dest", got)
	}
	if b, _ := os.ReadFile(shared); string(b) != "through\n" {
		t.Fatalf("an uncommitted Dest changed the file: %q", b)
	}
}

// Dest refuses before writing anything: a way out, a dangling link (never replaced by a
// file), a directory, a FIFO.
func TestDestRefuses(t *testing.T) {
	r := newRoom(t)
	fifo := filepath.Join(r.proj, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for dest, want := range map[string]string{
		r.secret:         "is not beneath",
		"../home/secret": "is not beneath",
		"conf":           "is a directory",
		fifo:             "not a regular file",
	} {
		if err := replace(t, r.beneath(), dest, "x"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Dest(%s): %v, want %q", dest, err, want)
		}
	}
	link(t, r.conf, r.secret)
	err := replace(t, r.beneath(), r.conf, "x")
	wantEscape(t, err, r.conf)
	link(t, r.conf, "missing.toml")
	if err := replace(t, r.beneath(), r.conf, "x"); err == nil || !strings.Contains(err.Error(), "does not lead to a file") {
		t.Fatalf("a dangling link: %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(r.secret); string(b) != "SECRET\n" {
		t.Fatalf("the outside file holds %q", b)
	}
	if got := entries(t, filepath.Dir(r.conf)); !reflect.DeepEqual(got, []string{"a.toml"}) {
		t.Fatalf("conf holds %q after refusals", got)
	}
}
