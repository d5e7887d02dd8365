package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/treeindex"
)

// TestRestoreDiffHelper: on the helper path, a backup of a volume records its final index;
// a differential restore in a helper container, reading the index and the archive from the
// backup dir mounted read-only, rewrites only the changed file, removes the added one and
// gives the backup's tree exactly; into the volume recreated, nothing it holds is taken for
// unchanged.
func TestRestoreDiffHelper(t *testing.T) {
	noLeftovers(t)
	m := newMover(t, PathHelper)
	ctx := ctxT(t)
	v := newVolume(t)
	src := tempDir(t)
	fillRich(t, src)
	data, _ := backupBytes(t, m, bind(src), BackupOptions{})
	restoreBytes(t, m, vol(v), data, RestoreOptions{})
	time.Sleep(treeindex.CtimeMargin + 1100*time.Millisecond) // older than the backup's margin

	dir := tempDir(t)
	file := filepath.Join(dir, "00-vol.tar.zst")
	f, err := os.Create(file)
	must(t, err)
	final := archive.NewIndex()
	_, err = m.Backup(ctx, vol(v), f, BackupOptions{Final: final})
	must(t, err)
	must(t, f.Close())
	if final.Start.IsZero() || final.OnePass != "" || len(final.Entries) == 0 {
		t.Fatalf("the helper's final index: start %v, one-pass %q, %d entries", final.Start, final.OnePass, len(final.Entries))
	}
	ixFile := filepath.Join(dir, "00-vol.index.zst")
	ix, err := os.Create(ixFile)
	must(t, err)
	_, err = final.WriteTo(ix)
	must(t, err)
	must(t, ix.Close())
	want := volumeTree(t, m, v)

	vi, err := engine(t).VolumeInspect(ctx, v, client.VolumeInspectOptions{})
	must(t, err)
	mp := vi.Volume.Mountpoint
	var changed string
	for rel, n := range want {
		if n.Type == "file" && n.Size > 0 && n.HardOf == "" && !strings.Contains(rel, "/") {
			changed = rel
			break
		}
	}
	if changed == "" {
		t.Fatal("no top-level file to change")
	}
	must(t, os.WriteFile(filepath.Join(mp, changed), []byte("changed by the new version"), 0o644))
	must(t, os.WriteFile(filepath.Join(mp, "added-later"), []byte("x"), 0o644))

	res, err := m.RestoreDiff(ctx, vol(v), DiffOptions{IndexFile: ixFile, Archives: []string{file}})
	must(t, err)
	if res.Fallback != "" || res.Rewritten < 1 || res.Removed != 1 {
		t.Fatalf("differential restore on the helper path: %+v", res)
	}
	if !strings.Contains(m.DataPath(), "reading from the backup dir directly") {
		t.Errorf("data path %q does not say the helper read the backup dir directly", m.DataPath())
	}
	assertSameTree(t, want, volumeTree(t, m, v), cmpOpts{})

	// An incremental chain spans backups: the archive in one backup dir, the index (the
	// newest link's) in another of the same project dir. The helper mounts the project dir
	// and still restores differentially.
	proj := tempDir(t)
	for _, mv := range [][2]string{{file, filepath.Join(proj, "20261207T000000Z", "00-vol.tar.zst")}, {ixFile, filepath.Join(proj, "20261207T000001Z", "00-vol.index.zst")}} {
		must(t, os.MkdirAll(filepath.Dir(mv[1]), 0o700))
		must(t, os.Rename(mv[0], mv[1]))
	}
	file, ixFile = filepath.Join(proj, "20261207T000000Z", "00-vol.tar.zst"), filepath.Join(proj, "20261207T000001Z", "00-vol.index.zst")
	must(t, os.WriteFile(filepath.Join(mp, changed), []byte("changed by the new version again"), 0o644))
	res, err = m.RestoreDiff(ctx, vol(v), DiffOptions{IndexFile: ixFile, Archives: []string{file}})
	must(t, err)
	if res.Fallback != "" || res.Rewritten < 1 {
		t.Fatalf("differential restore of a chain spanning backup dirs on the helper path: %+v", res)
	}
	assertSameTree(t, want, volumeTree(t, m, v), cmpOpts{})

	// The volume removed and created again: another tree.
	_, err = engine(t).VolumeRemove(ctx, v, client.VolumeRemoveOptions{Force: true})
	must(t, err)
	_, err = engine(t).VolumeCreate(ctx, client.VolumeCreateOptions{Name: v})
	must(t, err)
	restoreBytes(t, m, vol(v), data, RestoreOptions{})
	res, err = m.RestoreDiff(ctx, vol(v), DiffOptions{IndexFile: ixFile, Archives: []string{file}})
	must(t, err)
	// Its root may get the inode number back (the file system reuses it): then every file
	// differs from the index by inode or ctime and is rewritten; else it falls back.
	if res.Fallback == "" && res.Rewritten != res.Files {
		t.Fatalf("a recreated volume: %+v, want everything rewritten or a fallback", res)
	}
	if res.Fallback != "" && !strings.Contains(res.Fallback, "not the tree the backup read") {
		t.Fatalf("a recreated volume: fallback %q, want it to name another tree", res.Fallback)
	}
	assertSameTree(t, want, volumeTree(t, m, v), cmpOpts{})
}
