package volume

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/helper"
)

// TestSingleFileSwappedForLinkOut: a single-file bind of a project (docker-config/adapters/
// config.toml) is swapped for a symlink leading out of the project after the plan: on every
// data path the backup fails for that source without reading the outside file, and a restore
// refuses without writing it. The same holds when the file's parent dir is swapped.
func TestSingleFileSwappedForLinkOut(t *testing.T) {
	noLeftovers(t)
	for _, p := range hostPaths(t, PathHelper, PathArchive) {
		for _, swapParent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/parent=%v", p, swapParent), func(t *testing.T) {
				m := newMover(t, p)
				base := tempDir(t)
				proj := filepath.Join(base, "proj")
				conf := filepath.Join(proj, "docker-config", "adapters", "config.toml")
				writeFile(t, conf, []byte("[inner]\nversion = \"1\"\n"), 0o644, 0, 0)
				outDir := filepath.Join(base, "root-ssh")
				outside := filepath.Join(outDir, "config.toml")
				writeFile(t, outside, []byte("ssh-ed25519 SECRET\n"), 0o600, 0, 0)
				tg := Target{Kind: KindBind, HostPath: conf, IsFile: true, Root: proj}
				good, _ := backupBytes(t, m, tg, BackupOptions{})

				if swapParent {
					must(t, os.RemoveAll(filepath.Dir(conf)))
					must(t, os.Symlink(outDir, filepath.Dir(conf)))
				} else {
					must(t, os.Remove(conf))
					must(t, os.Symlink(outside, conf))
				}
				var buf bytes.Buffer
				_, err := m.Backup(ctxT(t), tg, &buf, BackupOptions{})
				if err == nil {
					t.Errorf("backup through a link leading out of the project succeeded")
				}
				if bytes.Contains(readAllZstd(t, buf.Bytes()), []byte("SECRET")) {
					t.Errorf("the outside file was read into the archive")
				}
				_, err = m.Restore(ctxT(t), tg, bytes.NewReader(good), RestoreOptions{})
				if err == nil {
					t.Errorf("restore through a link leading out of the project succeeded")
				}
				if b, _ := os.ReadFile(outside); string(b) != "ssh-ed25519 SECRET\n" {
					t.Errorf("the outside file was written: %q", b)
				}
				if ents, _ := os.ReadDir(outDir); len(ents) != 1 {
					t.Errorf("the outside dir holds %d entries, want 1", len(ents))
				}
			})
		}
	}
}

// readAllZstd decompresses what a backup wrote before it failed (as far as it goes).
func readAllZstd(t *testing.T, data []byte) []byte {
	t.Helper()
	r, err := archive.Decompress(bytes.NewReader(data), archive.Zstd)
	if err != nil {
		return data
	}
	defer r.Close()
	out, _ := io.ReadAll(r)
	return append(out, data...)
}

// singleFileArchiveOf is a zstd single-file archive of one file name holding content.
func singleFileArchiveOf(t *testing.T, name, content string) []byte {
	t.Helper()
	src := filepath.Join(tempDir(t), name)
	writeFile(t, src, []byte(content), 0o644, 0, 0)
	var buf bytes.Buffer
	if _, err := helper.Backup(ctxT(t), src, &buf, archive.Zstd, 0, nil, func(int64) {}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
