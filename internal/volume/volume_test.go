package volume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
	"github.com/docker-maim/docker-maim/internal/helper"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// roundTrip backs up a rich bind dir through path p, restores it into a volume that holds
// other content, reads the volume back independently, then backs the volume up through p
// and restores that into a changed bind dir through the helper.
func roundTrip(t *testing.T, p Path, o cmpOpts) {
	noLeftovers(t)
	m := newMover(t, p)
	helper := newMover(t, PathHelper)

	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	want := hostTree(t, src)

	for _, c := range []archive.Compression{archive.Zstd, archive.Gzip, archive.None} {
		t.Run(string(c), func(t *testing.T) {
			data, st := backupBytes(t, m, bind(src), BackupOptions{Compression: c})
			checkScan(t, data, c, st)
			if st.Files == 0 || st.Entries <= st.Files || st.Bytes == 0 {
				t.Fatalf("implausible stats %+v", st)
			}

			v := newVolume(t)
			junk := filepath.Join(tempDir(t), "junk")
			fillJunk(t, junk)
			if p == PathArchive {
				// It cannot delete at the top of a target (TestArchiveAPIRestoreRefusesTopLevelExtras):
				// what it must delete is below.
				must(t, os.RemoveAll(filepath.Join(junk, "extra")))
				must(t, os.Remove(filepath.Join(junk, "extra-link")))
				writeFile(t, filepath.Join(junk, "a/b/extra/file"), []byte("not in the archive"), 0o644, 0, 0)
			}
			junkData, _ := backupBytes(t, helper, bind(junk), BackupOptions{})
			restoreBytes(t, helper, vol(v), junkData, RestoreOptions{})
			assertSameTree(t, hostTree(t, junk), volumeTree(t, helper, v), cmpOpts{})

			rst := restoreBytes(t, m, vol(v), data, RestoreOptions{Compression: c})
			if rst.Entries != st.Entries || rst.Files != st.Files || rst.Bytes != st.Bytes {
				t.Errorf("restore stats %+v, backup stats %+v", rst, st)
			}
			assertSameTree(t, want, volumeTree(t, helper, v), o)

			// And back out of the volume, into a bind dir that has other content.
			vdata, vst := backupBytes(t, m, vol(v), BackupOptions{Compression: c})
			checkScan(t, vdata, c, vst)
			if vst.Entries != st.Entries || vst.Files != st.Files || vst.Bytes != st.Bytes {
				t.Errorf("volume backup stats %+v, bind backup stats %+v", vst, st)
			}
			dst := filepath.Join(tempDir(t), "dst")
			fillJunk(t, dst)
			restoreBytes(t, helper, bind(dst), vdata, RestoreOptions{Compression: c})
			assertSameTree(t, want, hostTree(t, dst), o)
		})
	}
}

func TestHelperRoundTrip(t *testing.T) {
	roundTrip(t, PathHelper, cmpOpts{})
}

// hostPaths is the paths worth testing: the host path only when this process can use it.
func hostPaths(t *testing.T, ps ...Path) []Path {
	if os.Geteuid() == 0 && os.Getenv(EnvNoHostPath) == "" {
		ps = append(ps, PathHost)
	}
	return ps
}

func skipUnlessHost(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the host path needs root")
	}
	if os.Getenv(EnvNoHostPath) != "" {
		t.Skip(EnvNoHostPath + " is set")
	}
	if !strings.HasPrefix(engine(t).DaemonHost(), "unix://") {
		t.Skip("engine is not local")
	}
}

func TestHostRoundTrip(t *testing.T) {
	skipUnlessHost(t)
	roundTrip(t, PathHost, cmpOpts{})
}

func TestAutoPicksHost(t *testing.T) {
	skipUnlessHost(t)
	m := NewMoverWithOptions(engine(t), Options{HelperBinary: helperBinary(t)})
	p, err := m.PathFor(ctxT(t))
	if p != PathHost {
		t.Fatalf("PathFor = %q, %v; want %q as root against the local engine", p, err, PathHost)
	}
	t.Setenv(EnvNoHostPath, "1")
	m = NewMoverWithOptions(engine(t), Options{HelperBinary: helperBinary(t)})
	if p, err := m.PathFor(ctxT(t)); p != PathHelper {
		t.Errorf("with %s=1: PathFor = %q, %v; want %q", EnvNoHostPath, p, err, PathHelper)
	}
	if _, err := NewMoverWithOptions(engine(t), Options{Path: PathHost}).PathFor(ctxT(t)); err == nil {
		t.Errorf("with %s=1: forced host path accepted", EnvNoHostPath)
	}
}

// TestHostFallsBack checks that PathAuto leaves the host path for a volume with driver
// options (a bind-option volume here; it could be NFS) and that a forced host path refuses it.
func TestHostFallsBack(t *testing.T) {
	skipUnlessHost(t)
	noLeftovers(t)
	cli := engine(t)
	name := "maim-test-" + randHex(6)
	dev := tempDir(t)
	_, err := cli.VolumeCreate(context.Background(), client.VolumeCreateOptions{Name: name, Driver: "local",
		DriverOpts: map[string]string{"type": "none", "device": dev, "o": "bind"}})
	must(t, err)
	t.Cleanup(func() { _, _ = cli.VolumeRemove(context.Background(), name, client.VolumeRemoveOptions{Force: true}) })
	src := tempDir(t)
	writeFile(t, filepath.Join(src, "f"), []byte("x"), 0o644, 0, 0)
	auto := NewMoverWithOptions(cli, Options{HelperBinary: helperBinary(t), Labels: map[string]string{"com.docker-maim.test": strings.SplitN(testLabel, "=", 2)[1]}})
	data, _ := backupBytes(t, auto, bind(src), BackupOptions{})
	if _, err := NewMoverWithOptions(cli, Options{Path: PathHost}).Restore(ctxT(t), vol(name), bytes.NewReader(data), RestoreOptions{}); err == nil {
		t.Error("forced host restore into a volume with driver options succeeded")
	}
	restoreBytes(t, auto, vol(name), data, RestoreOptions{})
	assertSameTree(t, hostTree(t, src), hostTree(t, dev), cmpOpts{})
}

func TestArchiveAPIRoundTrip(t *testing.T) {
	// The engine's archive endpoint keeps mtimes to the second and no user xattrs.
	roundTrip(t, PathArchive, cmpOpts{secondMtime: true, noXattrs: true})
}

func TestVolumeRestoreKeepsVolumeLabels(t *testing.T) {
	noLeftovers(t)
	for _, p := range hostPaths(t, PathHelper, PathArchive) {
		t.Run(string(p), func(t *testing.T) {
			m := newMover(t, p)
			cli := engine(t)
			name := "maim-test-" + randHex(6)
			labels := map[string]string{project.LabelProject: "demo", project.LabelVolume: "data"}
			_, err := cli.VolumeCreate(context.Background(), client.VolumeCreateOptions{Name: name, Labels: labels})
			must(t, err)
			t.Cleanup(func() { _, _ = cli.VolumeRemove(context.Background(), name, client.VolumeRemoveOptions{Force: true}) })
			src := tempDir(t)
			writeFile(t, filepath.Join(src, "f"), []byte("x"), 0o644, 0, 0)
			data, _ := backupBytes(t, m, bind(src), BackupOptions{})
			restoreBytes(t, m, vol(name), data, RestoreOptions{})
			vi, err := cli.VolumeInspect(context.Background(), name, client.VolumeInspectOptions{})
			must(t, err)
			for k, v := range labels {
				if vi.Volume.Labels[k] != v {
					t.Errorf("label %s = %q after restore, want %q", k, vi.Volume.Labels[k], v)
				}
			}
			res, err := cli.VolumeList(context.Background(), client.VolumeListOptions{Filters: make(client.Filters).Add("label", LabelHelper+"="+LabelValueStaging)})
			must(t, err)
			for _, v := range res.Items {
				if v.Labels[LabelHelper+".for"] == name {
					t.Errorf("staging volume %s left behind", v.Name)
				}
			}
		})
	}
}

func TestSingleFileBind(t *testing.T) {
	noLeftovers(t)
	for _, p := range hostPaths(t, PathHelper, PathArchive) {
		t.Run(string(p), func(t *testing.T) {
			m := newMover(t, p)
			dir := tempDir(t)
			f := filepath.Join(dir, "config.toml")
			writeFile(t, f, []byte("key = \"secret\"\n"), 0o600, 1000, 1000)
			sibling := filepath.Join(dir, "sibling")
			writeFile(t, sibling, []byte("leave me"), 0o644, 0, 0)
			ts := baseTime
			must(t, os.Chtimes(f, ts, ts))
			want := hostTree(t, dir)

			tg := Target{Kind: KindBind, HostPath: f, IsFile: true}
			data, st := backupBytes(t, m, tg, BackupOptions{})
			if st.Entries != 1 || st.Files != 1 || st.Bytes != 15 {
				t.Fatalf("stats %+v", st)
			}
			checkScan(t, data, archive.Zstd, st)
			writeFile(t, f, []byte("changed and longer content"), 0o666, 0, 0)
			restoreBytes(t, m, tg, data, RestoreOptions{})
			o := cmpOpts{noRootMtime: true}
			if p == PathArchive {
				o.secondMtime = true
			}
			assertSameTree(t, want, hostTree(t, dir), o)
		})
	}
}

func TestExcludes(t *testing.T) {
	noLeftovers(t)
	for _, p := range hostPaths(t, PathHelper, PathArchive) {
		t.Run(string(p), func(t *testing.T) {
			m := newMover(t, p)
			src := filepath.Join(tempDir(t), "src")
			fillRich(t, src)
			data, _ := backupBytes(t, m, bind(src), BackupOptions{Compression: archive.None,
				Excludes: []string{"**/*.log", "many/**", "a/b"}}) // "**/": .dockerignore's "*.log" is the root's only
			names := tarNames(t, data)
			for _, n := range []string{"./log/app.log", "./many/00/f000", "./a/b/", "./a/b/c/deep.txt"} {
				if names[n] {
					t.Errorf("%s not excluded", n)
				}
			}
			for _, n := range []string{"./", "./log/", "./many/", "./a/", "./blob.bin"} {
				if !names[n] {
					t.Errorf("%s missing", n)
				}
			}
		})
	}
}

// TestRestoreKeepsExcluded: on every path, a restore with the backup's excludes leaves the
// target's excluded paths byte-identical and still removes everything else not in the archive;
// an exception ("!cache/keep") below an excluded directory is restored.
func TestRestoreKeepsExcluded(t *testing.T) {
	noLeftovers(t)
	excludes := []string{"**/*.log", "cache/**", "!cache/keep"}
	helper := newMover(t, PathHelper)
	for _, p := range hostPaths(t, PathHelper, PathArchive) {
		t.Run(string(p), func(t *testing.T) {
			m := newMover(t, p)
			src := filepath.Join(tempDir(t), "src")
			writeFile(t, filepath.Join(src, "keep.txt"), []byte("backup"), 0o644, 0, 0)
			writeFile(t, filepath.Join(src, "cache", "in-backup"), []byte("x"), 0o644, 0, 0)
			writeFile(t, filepath.Join(src, "cache", "keep"), []byte("re-included"), 0o644, 0, 0)
			writeFile(t, filepath.Join(src, "d", "x"), []byte("x"), 0o644, 0, 0)
			data, _ := backupBytes(t, m, bind(src), BackupOptions{Excludes: excludes})

			live := filepath.Join(tempDir(t), "live")
			writeFile(t, filepath.Join(live, "keep.txt"), []byte("changed"), 0o644, 0, 0)
			if p != PathArchive { // that path cannot delete at the top (TestArchiveAPIRestoreInPlace)
				writeFile(t, filepath.Join(live, "stray"), []byte("not in the backup"), 0o644, 0, 0)
			}
			writeFile(t, filepath.Join(live, "d", "stray"), []byte("not in the backup"), 0o644, 0, 0)
			writeFile(t, filepath.Join(live, "app.log"), []byte("live log"), 0o640, 0, 0)
			writeFile(t, filepath.Join(live, "sub", "deep.log"), []byte("deep log"), 0o644, 0, 0)
			writeFile(t, filepath.Join(live, "cache", "big"), randomBytes(4096), 0o644, 0, 0)
			writeFile(t, filepath.Join(live, "cache", "keep"), []byte("changed"), 0o644, 0, 0)
			liveData, _ := backupBytes(t, helper, bind(live), BackupOptions{})
			want := hostTree(t, live)
			check := func(got tree) {
				t.Helper()
				for _, k := range []string{"app.log", "sub/deep.log", "cache/big"} {
					if !sameNode(got[k], want[k]) {
						t.Errorf("excluded %s changed: %+v, was %+v", k, got[k], want[k])
					}
				}
				for _, k := range []string{"keep.txt", "cache/keep"} {
					if got[k].SHA == want[k].SHA {
						t.Errorf("%s was not restored", k)
					}
				}
				for _, k := range []string{"stray", "d/stray", "cache/in-backup"} {
					if _, ok := got[k]; ok {
						t.Errorf("%s is there after the restore", k)
					}
				}
			}

			v := newVolume(t)
			restoreBytes(t, helper, vol(v), liveData, RestoreOptions{})
			restoreBytes(t, m, vol(v), data, RestoreOptions{Excludes: excludes})
			check(volumeTree(t, helper, v))

			restoreBytes(t, m, bind(live), data, RestoreOptions{Excludes: excludes})
			check(hostTree(t, live))
		})
	}
}

func sameNode(a, b node) bool {
	return a.Type == b.Type && a.Type != "" && a.SHA == b.SHA && a.Mode == b.Mode && a.Size == b.Size && a.Mtime == b.Mtime
}

func tarNames(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	tr := newTarReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		must(t, err)
		out[h.Name] = true
	}
}

func TestBackupMissingSources(t *testing.T) {
	noLeftovers(t)
	for _, p := range hostPaths(t, PathHelper, PathArchive) {
		t.Run(string(p), func(t *testing.T) {
			m := newMover(t, p)
			missingVol := "maim-test-missing-" + randHex(6)
			if _, err := m.Backup(ctxT(t), vol(missingVol), io.Discard, BackupOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
				t.Errorf("backup of a missing volume: %v", err)
			}
			if ok, _ := volumeExists(context.Background(), engine(t), missingVol); ok {
				t.Errorf("backup created volume %s", missingVol)
				_, _ = engine(t).VolumeRemove(context.Background(), missingVol, client.VolumeRemoveOptions{})
			}
			missingDir := filepath.Join(tempDir(t), "nope")
			if _, err := m.Backup(ctxT(t), bind(missingDir), io.Discard, BackupOptions{}); err == nil {
				t.Error("backup of a missing bind dir succeeded")
			}
			if _, err := os.Stat(missingDir); err == nil {
				t.Error("backup created the missing bind dir")
			}
		})
	}
}

func TestRestoreRefusesCorruptArchive(t *testing.T) {
	noLeftovers(t)
	m := newMover(t, PathHelper)
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	data, _ := backupBytes(t, m, bind(src), BackupOptions{})
	dst := filepath.Join(tempDir(t), "dst")
	fillJunk(t, dst)
	before := hostTree(t, dst)
	_, err := m.Restore(ctxT(t), bind(dst), bytes.NewReader(data[:len(data)/2]), RestoreOptions{})
	if err == nil {
		t.Fatal("restore of a truncated archive succeeded")
	}
	if !strings.Contains(err.Error(), "helper exited") {
		t.Errorf("error does not carry the helper's message: %v", err)
	}
	// Extract never prunes on a truncated stream: the extra files are still there.
	after := hostTree(t, dst)
	if _, ok := after["extra/file"]; !ok {
		t.Errorf("truncated restore pruned the destination (before %d entries, after %d)", len(before), len(after))
	}
}

// TestArchiveAPIRestoreRefusesTopLevelExtras: the archive API cannot delete at the top of
// a target, so a restore that would have to refuses, and nothing of the target changed.
func TestArchiveAPIRestoreRefusesTopLevelExtras(t *testing.T) {
	noLeftovers(t)
	m := newMover(t, PathArchive)
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	data, _ := backupBytes(t, m, bind(src), BackupOptions{})
	dst := filepath.Join(tempDir(t), "dst")
	fillJunk(t, dst)
	before := hostTree(t, dst)
	if _, err := m.Restore(ctxT(t), bind(dst), bytes.NewReader(data), RestoreOptions{}); err == nil ||
		!strings.Contains(err.Error(), "extra-link") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("restore into a bind dir with extras at its top through the archive API: %v", err)
	}
	assertSameTree(t, before, hostTree(t, dst), cmpOpts{})
	empty := filepath.Join(tempDir(t), "missing", "dst")
	restoreBytes(t, m, bind(empty), data, RestoreOptions{})
	assertSameTree(t, hostTree(t, src), hostTree(t, empty), cmpOpts{secondMtime: true, noXattrs: true})
}

// TestArchiveAPIRestoreInPlace: through the archive API, a volume that a stopped container
// references is restored in place (the same volume, never removed), exactly: changed files,
// owners and modes back, a directory where a file was and the reverse, and files the archive
// lacks below its directories gone. With a file to delete at the top it refuses, untouched.
func TestArchiveAPIRestoreInPlace(t *testing.T) {
	noLeftovers(t)
	helper := newMover(t, PathHelper)
	m := newMover(t, PathArchive)
	cli := engine(t)
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	data, _ := backupBytes(t, helper, bind(src), BackupOptions{})

	changed := filepath.Join(tempDir(t), "changed")
	fillRich(t, changed)
	writeFile(t, filepath.Join(changed, "a/b/c/deep.txt"), []byte("changed!"), 0o666, 2000, 2000)
	writeFile(t, filepath.Join(changed, "a/b/new-file"), []byte("not in the archive"), 0o644, 0, 0)
	writeFile(t, filepath.Join(changed, "many/03/new/deeper"), []byte("not in the archive"), 0o644, 0, 0)
	must(t, os.Remove(filepath.Join(changed, "link-to-deep")))
	writeFile(t, filepath.Join(changed, "link-to-deep"), []byte("a file where a symlink belongs"), 0o644, 0, 0)
	must(t, os.Remove(filepath.Join(changed, "unicode ünï 日本.txt")))
	must(t, os.MkdirAll(filepath.Join(changed, "unicode ünï 日本.txt", "now-a-dir"), 0o755))
	must(t, os.RemoveAll(filepath.Join(changed, "empty")))
	writeFile(t, filepath.Join(changed, "empty"), []byte("a file where a dir belongs"), 0o644, 0, 0)
	must(t, os.Chmod(filepath.Join(changed, "many"), 0o700))
	changedData, _ := backupBytes(t, helper, bind(changed), BackupOptions{})

	v := newVolume(t)
	restoreBytes(t, helper, vol(v), changedData, RestoreOptions{})
	// A stopped container references the volume, as a compose service's does.
	img, err := m.emptyImage(ctxT(t))
	must(t, err)
	c, err := cli.ContainerCreate(ctxT(t), client.ContainerCreateOptions{
		Config:     &container.Config{Image: img, Labels: map[string]string{"com.docker-maim.test": "user"}},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: v, Target: "/srv"}}},
	})
	must(t, err)
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true})
	})
	restoreBytes(t, m, vol(v), data, RestoreOptions{})
	assertSameTree(t, hostTree(t, src), volumeTree(t, helper, v), cmpOpts{secondMtime: true, noXattrs: true})

	writeFile(t, filepath.Join(changed, "top-extra"), []byte("x"), 0o644, 0, 0)
	changedData, _ = backupBytes(t, helper, bind(changed), BackupOptions{})
	restoreBytes(t, helper, vol(v), changedData, RestoreOptions{})
	before := volumeTree(t, helper, v)
	if _, err := m.Restore(ctxT(t), vol(v), bytes.NewReader(data), RestoreOptions{}); err == nil ||
		!strings.Contains(err.Error(), "top-extra") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("restore with a file to delete at the top: %v; want a refusal naming it", err)
	}
	assertSameTree(t, before, volumeTree(t, helper, v), cmpOpts{})
}

// cancelWriter cancels the context on the first write and then fails.
type cancelWriter struct{ cancel context.CancelFunc }

func (c cancelWriter) Write(p []byte) (int, error) {
	c.cancel()
	return 0, errCanceledWrite
}

// blockingReader yields some bytes, then blocks until ctx is done.
type blockingReader struct {
	ctx  context.Context
	sent bool
	data []byte
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, b.data), nil
	}
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func TestCancelRemovesHelpers(t *testing.T) {
	for _, p := range []Path{PathHelper, PathArchive} {
		t.Run(string(p), func(t *testing.T) {
			noLeftovers(t)
			m := newMover(t, p)
			v := newVolume(t)
			src := filepath.Join(tempDir(t), "src")
			fillRich(t, src)
			data, _ := backupBytes(t, m, bind(src), BackupOptions{})
			restoreBytes(t, m, vol(v), data, RestoreOptions{})

			// Backup canceled while streaming.
			ctx, cancel := context.WithCancel(context.Background())
			_, err := m.Backup(ctx, vol(v), cancelWriter{cancel}, BackupOptions{})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("canceled backup: %v", err)
			}
			if ids := leftoverContainers(t); len(ids) > 0 {
				t.Errorf("after canceled backup: containers %v", ids)
			}

			// Restore canceled while the archive is still arriving.
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(2*time.Second, cancel)
			_, err = m.Restore(ctx, vol(v), &blockingReader{ctx: ctx, data: data[:len(data)/3]}, RestoreOptions{})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("canceled restore: %v", err)
			}
			if ids := leftoverContainers(t); len(ids) > 0 {
				t.Errorf("after canceled restore: containers %v", ids)
			}
			// Nothing references the volume any more: it can be removed (Cleanup does).
		})
	}
}

func TestHelperMainUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"backup"}, {"backup", "--compression", "lzma", "/x"}, {"restore", "a", "b"}} {
		var stderr bytes.Buffer
		code := helper.Run(context.Background(), args, strings.NewReader(""), io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), `"error"`) {
			t.Errorf("helper.Run(%q) = %d, stderr %q", args, code, stderr.String())
		}
	}
}

func TestHelperMainRoundTripLocal(t *testing.T) {
	src := filepath.Join(tempDir(t), "src")
	if os.Geteuid() != 0 {
		t.Skip("needs root to set owners")
	}
	fillRich(t, src)
	var out, stderr bytes.Buffer
	if code := helper.Run(context.Background(), []string{"backup", "--compression", "zstd", "--level", "3", src}, nil, &out, &stderr); code != 0 {
		t.Fatalf("backup exit %d: %s", code, stderr.String())
	}
	var h helperStderr
	_, _ = h.Write(stderr.Bytes())
	h.flush()
	if !h.gotStats || h.stats.Files == 0 {
		t.Fatalf("no stats in %q", stderr.String())
	}
	dst := filepath.Join(tempDir(t), "dst")
	fillJunk(t, dst)
	stderr.Reset()
	if code := helper.Run(context.Background(), []string{"restore", "--compression", "zstd", dst}, &out, io.Discard, &stderr); code != 0 {
		t.Fatalf("restore exit %d: %s", code, stderr.String())
	}
	assertSameTree(t, hostTree(t, src), hostTree(t, dst), cmpOpts{})
}

func TestTargetValidate(t *testing.T) {
	bad := []Target{{}, {Kind: "nfs"}, {Kind: KindVolume}, {Kind: KindVolume, VolumeName: "v", IsFile: true},
		{Kind: KindBind, HostPath: "rel/path"}, {Kind: KindBind, HostPath: "/", IsFile: true}}
	for _, tg := range bad {
		if tg.validate() == nil {
			t.Errorf("%+v accepted", tg)
		}
	}
	if err := (Target{Kind: KindBind, HostPath: "/srv/x"}).validate(); err != nil {
		t.Error(err)
	}
}

// TestSingleFileBindThroughSymlink: restoring a single-file bind whose path is a symlink
// writes the file the link leads to and keeps the link. A relative link resolves on every
// path; an absolute one (naming the target's root by its host path) on the host path and in
// the helper, and is refused (not replaced) through the archive API, where the engine
// resolves it within the container, where it leads nowhere.
func TestSingleFileBindThroughSymlink(t *testing.T) {
	noLeftovers(t)
	for _, p := range hostPaths(t, PathHelper, PathArchive) {
		for _, abs := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/abs=%v", p, abs), func(t *testing.T) {
				m := newMover(t, p)
				dir := tempDir(t)
				real := filepath.Join(dir, "real", "config.toml")
				writeFile(t, real, []byte("key = 1\n"), 0o644, 0, 0)
				target := "real/config.toml"
				if abs {
					target = real
				}
				link := filepath.Join(dir, "config.toml")
				must(t, os.Symlink(target, link))
				tg := Target{Kind: KindBind, HostPath: link, IsFile: true}
				if abs && p == PathArchive {
					var buf bytes.Buffer
					if _, err := m.Backup(ctxT(t), tg, &buf, BackupOptions{}); err == nil {
						t.Errorf("archive API through an absolute link: the backup succeeded")
					}
					data := singleFileArchiveOf(t, "config.toml", "other\n")
					_, err := m.Restore(ctxT(t), tg, bytes.NewReader(data), RestoreOptions{})
					b, _ := os.ReadFile(real)
					if got, lerr := os.Readlink(link); err == nil || string(b) != "key = 1\n" || lerr != nil || got != target {
						t.Errorf("archive API through an absolute link: err %v, file %q, link %q; want a refusal, both untouched", err, b, got)
					}
					return
				}
				data, _ := backupBytes(t, m, tg, BackupOptions{})
				writeFile(t, real, []byte("changed and longer\n"), 0o644, 0, 0)
				_, err := m.Restore(ctxT(t), tg, bytes.NewReader(data), RestoreOptions{})
				if got, lerr := os.Readlink(link); lerr != nil || got != target {
					t.Fatalf("the symlink was replaced: readlink = %q, %v (restore: %v)", got, lerr, err)
				}
				b, _ := os.ReadFile(real)
				if err != nil || string(b) != "key = 1\n" {
					t.Errorf("restore: %v; the file behind the link holds %q", err, b)
				}
			})
		}
	}
}

func TestPlanInPlace(t *testing.T) {
	arch := map[string]bool{"": true, "a": true, "a/b": true, "a/b/f": false, "file": false, "d": true}
	keep := func(rel string) bool { return strings.HasSuffix(rel, ".log") }
	cases := []struct {
		name    string
		current map[string]bool
		clear   []string
		refuse  string
	}{
		{"same", map[string]bool{"": true, "a": true, "a/b": true, "a/b/f": false}, nil, ""},
		{"extra below a dir", map[string]bool{"": true, "a": true, "a/b": true, "a/b/x": false, "a/b/f": false}, []string{"a/b"}, ""},
		{"extra tree below a dir", map[string]bool{"": true, "a": true, "a/new": true, "a/new/deep": false}, []string{"a"}, ""},
		{"dir where the archive has a file", map[string]bool{"": true, "file": true, "file/x": false}, nil, ""},
		{"extra at the top", map[string]bool{"": true, "a": true, "stray": false}, nil, "stray at the top"},
		{"kept at the top", map[string]bool{"": true, "app.log": false, "logs": true, "logs/x.log": false}, nil, ""},
		{"clear would drop a kept path", map[string]bool{"": true, "d": true, "d/x": false, "d/y.log": false}, nil, "d/y.log"},
	}
	for _, c := range cases {
		got, err := planInPlace(arch, c.current, keep)
		if c.refuse != "" {
			if err == nil || !strings.Contains(err.Error(), c.refuse) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("%s: err %v, want a refusal naming %q", c.name, err, c.refuse)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var keys []string
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if fmt.Sprint(keys) != fmt.Sprint(c.clear) {
			t.Errorf("%s: clear %v, want %v", c.name, keys, c.clear)
		}
	}
}

// HelperSize measures a volume inside a helper container: what a backup of it will count,
// excludes honoured, and the same as the host path's measure of the same tree.
func TestHelperSize(t *testing.T) {
	noLeftovers(t)
	m := newMover(t, PathHelper)
	src := filepath.Join(tempDir(t), "src")
	fillRich(t, src)
	writeFile(t, filepath.Join(src, "skip/big.tmp"), bytes.Repeat([]byte("x"), 4096), 0o644, 0, 0)
	data, _ := backupBytes(t, m, bind(src), BackupOptions{})
	v := newVolume(t)
	restoreBytes(t, m, vol(v), data, RestoreOptions{})

	for _, excludes := range [][]string{nil, {"*.tmp"}} {
		want, err := fsaccess.Measure(ctxT(t), src, excludes)
		must(t, err)
		got, err := m.HelperSize(ctxT(t), vol(v), excludes)
		must(t, err)
		if got != want || got == 0 {
			t.Errorf("excludes %v: helper measured %d, host measure %d", excludes, got, want)
		}
		_, st := backupBytes(t, m, vol(v), BackupOptions{Excludes: excludes})
		if st.Bytes != got {
			t.Errorf("excludes %v: measured %d, the backup counted %d", excludes, got, st.Bytes)
		}
	}
	// No helper on this engine (the archive API only): an error, the size stays unknown.
	if _, err := newMover(t, PathArchive).HelperSize(ctxT(t), vol(v), nil); err == nil {
		t.Error("archive-API mover measured through a helper")
	}
}
