package helper

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestMarkerMismatchTouchesNothing: a helper that does not find the host's marker (the dir
// it sees is not the host's) exits with ExitNotVisible and not_visible, before truncating
// the --out file or reading the target.
func TestMarkerMismatchTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a.tar.zst.partial")
	if err := os.WriteFile(out, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for name, marker := range map[string]string{"missing": "", "differs": "someone else's"} {
		mp := filepath.Join(dir, ".maim-visible-x")
		os.Remove(mp)
		if marker != "" {
			if err := os.WriteFile(mp, []byte(marker), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var stderr bytes.Buffer
		code := Run(context.Background(), []string{"backup", "--marker", mp, "--token", "tok", "--out", out, src}, nil, nil, &stderr)
		var msg Msg
		if err := json.Unmarshal(bytes.TrimSpace(stderr.Bytes()), &msg); err != nil || code != ExitNotVisible || !msg.NotVisible {
			t.Errorf("%s marker: exit %d, stderr %q; want %d and not_visible", name, code, stderr.String(), ExitNotVisible)
		}
		if b, _ := os.ReadFile(out); string(b) != "keep" {
			t.Errorf("%s marker: the --out file was touched: %q", name, b)
		}
	}

	// With the right marker the archive goes into the existing file, its mode kept.
	mp := filepath.Join(dir, ".maim-visible-x")
	if err := os.WriteFile(mp, []byte("tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"backup", "--marker", mp, "--token", "tok", "--out", out, src}, nil, nil, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Size() <= 4 || fi.Mode().Perm() != 0o600 {
		t.Errorf("--out after the backup: %v, %v", fi, err)
	}
	// A missing --out file is never created.
	var e2 bytes.Buffer
	if code := Run(context.Background(), []string{"backup", "--out", filepath.Join(dir, "nope"), src}, nil, nil, &e2); code == 0 {
		t.Errorf("backup into a missing --out file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); err == nil {
		t.Errorf("the helper created the --out file")
	}
}
