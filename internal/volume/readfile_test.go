package volume

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/moby/moby/client"
)

// TestReadFile: a small regular file of a volume or a bind is read through the engine; a
// missing one (or a missing bind dir) is fs.ErrNotExist; a symbolic link is never followed,
// a directory never read, a file larger than asked for never returned; a name cannot climb
// out of the target; no container is left behind.
func TestReadFile(t *testing.T) {
	m := newMover(t, PathArchive)
	ctx := ctxT(t)
	dir := tempDir(t)
	writeFile(t, filepath.Join(dir, "PG_VERSION"), []byte("15\n"), 0o600, 0, 0)
	writeFile(t, filepath.Join(dir, "18", "docker", "PG_VERSION"), []byte("18\n"), 0o600, 0, 0)
	writeFile(t, filepath.Join(dir, "big"), bytes.Repeat([]byte("x"), 4096), 0o644, 0, 0)
	must(t, os.Symlink("/etc/hostname", filepath.Join(dir, "link")))
	v := newVolume(t)
	var buf bytes.Buffer
	cw, err := archive.Compress(&buf, archive.Zstd, 0)
	must(t, err)
	_, err = archive.WriteTar(ctx, cw, dir, archive.WriteOptions{})
	must(t, err)
	must(t, cw.Close())
	_, err = m.Restore(ctx, Target{Kind: KindVolume, VolumeName: v}, &buf, RestoreOptions{})
	must(t, err)

	for _, tg := range []Target{{Kind: KindBind, HostPath: dir}, {Kind: KindVolume, VolumeName: v}} {
		t.Run(tg.Kind, func(t *testing.T) {
			for rel, want := range map[string]string{"PG_VERSION": "15\n", "18/docker/PG_VERSION": "18\n", "../../PG_VERSION": "15\n"} {
				got, err := m.ReadFile(ctx, tg, rel, 64)
				if err != nil || string(got) != want {
					t.Errorf("ReadFile(%s) = %q, %v; want %q", rel, got, err, want)
				}
			}
			for _, rel := range []string{"nope", "17/docker/PG_VERSION", "../../etc/hostname"} {
				if got, err := m.ReadFile(ctx, tg, rel, 64); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("ReadFile(%s) = %q, %v; want fs.ErrNotExist", rel, got, err)
				}
			}
			for rel, why := range map[string]string{"link": "symbolic link", "18": "directory", "big": "4096 bytes"} {
				var fe *FileError
				if got, err := m.ReadFile(ctx, tg, rel, 64); !errors.As(err, &fe) || !strings.Contains(fe.Why, why) || got != nil {
					t.Errorf("ReadFile(%s) = %q, %v; want a FileError saying %q", rel, got, err, why)
				}
			}
		})
	}
	if _, err := m.ReadFile(ctx, Target{Kind: KindBind, HostPath: filepath.Join(dir, "missing")}, "PG_VERSION", 64); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing bind dir: %v, want fs.ErrNotExist", err)
	}
	missing := "maim-test-missing-" + randHex(6)
	if _, err := m.ReadFile(ctx, Target{Kind: KindVolume, VolumeName: missing}, "PG_VERSION", 64); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing volume: %v, want fs.ErrNotExist", err)
	}
	if ok, err := volumeExists(ctx, m.cli, missing); ok || err != nil {
		t.Errorf("reading from missing volume %s created it (%v)", missing, err)
		_, _ = m.cli.VolumeRemove(ctx, missing, client.VolumeRemoveOptions{Force: true})
	}
	if left := leftoverContainers(t); len(left) > 0 {
		t.Errorf("containers left behind: %v", left)
	}
}
