package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A config's file swapped for a link leading out of its directory after the plan (a
// container that can write the config dir, while pass one runs) is refused when the merge
// is written: the file outside keeps its bytes. A link that stays in the directory is
// still followed, and its target replaced.
func TestApplyMergeStaysInTheConfigDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "config")
	outside := filepath.Join(root, "authorized_keys")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(dir, 0o755))
	must(os.WriteFile(outside, []byte("ssh-ed25519 AAAA host\n"), 0o600))
	file := filepath.Join(dir, "app.toml")
	must(os.WriteFile(file, []byte("a = 1\n"), 0o600))
	tmpl := filepath.Join(root, "template.toml")
	must(os.WriteFile(tmpl, []byte("a = 0\nb = 2\n"), 0o600))
	plan := Plan{File: file, Format: TOML, Template: TemplateSource{HostPath: tmpl}}

	res, err := Prepare(context.Background(), nil, plan, false)
	must(err)
	must(os.Remove(file))
	must(os.Symlink(outside, file))
	err = ApplyMerge(res)
	var esc *LinkOutError
	if !errors.As(err, &esc) {
		t.Fatalf("writing through a link out of %s: %v, want a *LinkOutError", dir, err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "ssh-ed25519 AAAA host\n" {
		t.Fatalf("the file outside was written: %q", b)
	}

	// The directory itself swapped for a link elsewhere: refused too.
	must(os.Remove(file))
	must(os.WriteFile(file, []byte("a = 1\n"), 0o600))
	res, err = Prepare(context.Background(), nil, plan, false)
	must(err)
	elsewhere := filepath.Join(root, "elsewhere")
	must(os.MkdirAll(elsewhere, 0o755))
	must(os.Rename(dir, dir+".old"))
	must(os.Symlink(elsewhere, dir))
	if err := ApplyMerge(res); !errors.As(err, &esc) {
		t.Fatalf("writing through a swapped directory: %v, want a *LinkOutError", err)
	}
	if _, err := os.Lstat(filepath.Join(elsewhere, "app.toml")); err == nil {
		t.Fatalf("the merge was written into the directory the link leads to")
	}
	must(os.Remove(dir))
	must(os.Rename(dir+".old", dir))

	// A link inside the directory is followed: its target gets the merge.
	real := filepath.Join(dir, "real.toml")
	must(os.Rename(file, real))
	must(os.Symlink("real.toml", file))
	res, err = Prepare(context.Background(), nil, plan, false)
	must(err)
	must(ApplyMerge(res))
	if fi, err := os.Lstat(file); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link inside the directory was replaced: %v", err)
	}
	if b, _ := os.ReadFile(real); string(b) == "a = 1\n" {
		t.Fatalf("the link's target was not merged")
	}

	// A link out of the directory at plan time is refused by the plan, which would
	// otherwise read (and diff) the file outside.
	must(os.Remove(file))
	must(os.Symlink(outside, file))
	if _, err := Prepare(context.Background(), nil, plan, false); !errors.As(err, &esc) {
		t.Fatalf("planning through a link out: %v, want a *LinkOutError", err)
	}
}
