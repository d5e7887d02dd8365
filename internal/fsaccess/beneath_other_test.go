//go:build !linux && !darwin

package fsaccess

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Check, where there is no O_NOFOLLOW walk: a path beneath Dir resolves to the file it names
// (a link that stays inside followed, a missing file named as is), and a path outside or a
// link leading outside is an *EscapeError.
func TestCheck(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	proj, outside := filepath.Join(base, "proj"), filepath.Join(base, "secret")
	conf := filepath.Join(proj, "a.toml")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{conf, outside} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := &Beneath{Dir: proj}
	if got, err := b.Check(conf); err != nil || got != conf {
		t.Errorf("Check(%s) = %q, %v", conf, got, err)
	}
	missing := filepath.Join(proj, "missing")
	if got, err := b.Check(missing); err != nil || got != missing {
		t.Errorf("Check(%s) = %q, %v", missing, got, err)
	}
	var esc *EscapeError
	if _, err := b.Check(outside); !errors.As(err, &esc) || esc.Link != "" {
		t.Errorf("Check(%s): %v, want an *EscapeError without a link", outside, err)
	}
	in, out := filepath.Join(proj, "in"), filepath.Join(proj, "out")
	if err := os.Symlink(conf, in); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	if err := os.Symlink(outside, out); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Check(in); err != nil || got != conf {
		t.Errorf("Check(%s) = %q, %v; want %s", in, got, err, conf)
	}
	if _, err := b.Check(out); !errors.As(err, &esc) || esc.Target != outside {
		t.Errorf("Check(%s): %v, want an *EscapeError naming %s", out, err, outside)
	}
}
