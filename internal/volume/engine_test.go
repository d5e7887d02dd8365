package volume

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/helper"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// treeArg makes the test binary (which is also the helper binary in the helper image) print
// the tree of a directory as JSON: an independent reading of a volume's content.
const treeArg = "__maim-test-tree"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "backup", "restore", "measure", "diffrestore", "diffstage":
			// The helper image's entrypoint runs this binary as the helper (helperBinary).
			os.Exit(helper.Main(os.Args[1:]))
		case treeArg:
			t, err := readTree(os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			_ = json.NewEncoder(os.Stdout).Encode(t)
			os.Exit(0)
		}
	}
	code := m.Run()
	removeTestImages()
	if staticDir != "" {
		os.RemoveAll(staticDir)
	}
	if benchCleanup != nil {
		benchCleanup()
	}
	os.Exit(code)
}

// ---- engine and helper binary ----

var (
	engineOnce sync.Once
	engineCli  *client.Client
	engineErr  error

	staticOnce sync.Once
	staticBin  string
	staticDir  string
	staticErr  error
)

// engine returns a client, skipping the test when no engine answers outside CI.
func engine(t testing.TB) *client.Client {
	t.Helper()
	engineOnce.Do(func() {
		engineCli, engineErr = client.New(client.FromEnv, client.WithAPIVersionNegotiation())
		if engineErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, engineErr = engineCli.Ping(ctx, client.PingOptions{}); engineErr == nil {
			emptyExisted, engineErr = imageExists(ctx, engineCli, emptyImageRef)
		}
	})
	if engineErr != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("docker engine unreachable (set CI to make this fatal): %v", engineErr)
		}
		t.Fatalf("docker engine unreachable: %v", engineErr)
	}
	return engineCli
}

// emptyExisted records whether the shared empty image was there before this test process.
var emptyExisted = true

// removeTestImages removes the helper image of this test binary (its tag is unique to the
// build) and the shared empty image when this process created it.
func removeTestImages() {
	if engineCli == nil || engineErr != nil || staticBin == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	refs := []string{}
	if sum, _, err := archive.FileSHA256(staticBin); err == nil {
		refs = append(refs, helperRepo+":"+sum[:12])
	}
	if !emptyExisted {
		refs = append(refs, emptyImageRef)
	}
	for _, ref := range refs {
		if ok, _ := imageExists(ctx, engineCli, ref); ok {
			if _, err := engineCli.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err != nil {
				fmt.Fprintf(os.Stderr, "removing test image %s: %v\n", ref, err)
			}
		}
	}
}

// helperBinary returns a static copy of this test binary, which runs helper.Main in TestMain
// when called as the helper program (backup|restore ...), like cmd/maim-helper.
func helperBinary(t testing.TB) string {
	t.Helper()
	staticOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			staticErr = err
			return
		}
		if b, err := os.ReadFile(exe); err == nil && checkStaticLinux(b, exe, runtime.GOARCH) == nil {
			staticBin = exe
			return
		}
		staticDir, staticErr = os.MkdirTemp("", "maim-helper-bin-")
		if staticErr != nil {
			return
		}
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		out := filepath.Join(staticDir, "volume-helper.test")
		cmd := exec.Command(goCmd, "test", "-c", "-o", out, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			staticErr = fmt.Errorf("building static helper: %v\n%s", err, b)
			return
		}
		staticBin = out
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	return staticBin
}

// testLabel is put on every helper container of this test process, so leftovers are ours.
var testLabel = "com.docker-maim.test=" + randHex(6)

func newMover(t testing.TB, p Path) *EngineMover {
	cli := engine(t)
	k, v, _ := strings.Cut(testLabel, "=")
	m := NewMoverWithOptions(cli, Options{Path: p, HelperBinary: helperBinary(t), Labels: map[string]string{k: v}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := m.PathFor(ctx)
	if err != nil || got != p {
		t.Fatalf("PathFor = %q, %v; want %q", got, err, p)
	}
	return m
}

func leftoverContainers(t testing.TB) []string {
	t.Helper()
	res, err := engine(t).ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", testLabel)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range res.Items {
		ids = append(ids, c.ID[:12])
	}
	return ids
}

func newVolume(t testing.TB) string {
	t.Helper()
	cli := engine(t)
	name := "maim-test-" + randHex(6)
	if _, err := cli.VolumeCreate(context.Background(), client.VolumeCreateOptions{Name: name,
		Labels: map[string]string{"com.docker-maim.test": "volume"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := cli.VolumeRemove(context.Background(), name, client.VolumeRemoveOptions{Force: true}); err != nil {
			t.Errorf("removing volume %s: %v", name, err)
		}
	})
	return name
}

func volumeTree(t testing.TB, m *EngineMover, name string) tree {
	t.Helper()
	img, err := m.helperImage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "run", "--rm", "--network", "none", "--label", testLabel,
		"-v", name+":/data:ro", "--entrypoint", helperExecPath, img, treeArg, "/data")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("listing volume %s: %v: %s", name, err, stderr.String())
	}
	var tr tree
	if err := json.Unmarshal(out, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// ---- trees: an independent description of a directory ----

// tree is the tests' shared description of a directory (internal/testrig/treediff).
type tree = treediff.Tree

type node = treediff.Node

func readTree(root string) (tree, error) { return treediff.Read(root) }

type cmpOpts struct {
	secondMtime bool // the engine's archive API keeps mtimes to the second
	noXattrs    bool // the engine's archive API keeps only security.capability
	noRootMtime bool
}

// options are o as treediff's: symlink times are not portable to restore, and only user
// xattrs are compared.
func (o cmpOpts) options() treediff.Options {
	return treediff.Options{NoSymlinkTimes: true, UserXattrsOnly: true,
		SecondMtime: o.secondMtime, NoXattrs: o.noXattrs, NoRootMtime: o.noRootMtime}
}

func assertSameTree(t testing.TB, want, got tree, o cmpOpts) {
	t.Helper()
	treediff.AssertSame(t, want, got, o.options())
}

// ---- test data ----

var baseTime = time.Unix(1_700_000_000, 123_456_789)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, p string, data []byte, mode os.FileMode, uid, gid int) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, data, 0o600))
	must(t, os.Chmod(p, mode))
	must(t, os.Lchown(p, uid, gid))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// fillRich makes a tree with every kind of thing a volume may hold.
func fillRich(t testing.TB, dir string) {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o755))
	writeFile(t, filepath.Join(dir, "a/b/c/deep.txt"), []byte("deep content\n"), 0o640, 1000, 1000)
	writeFile(t, filepath.Join(dir, "a/b/c/setuid"), []byte("#!/bin/true\n"), 0o4755, 0, 0)
	writeFile(t, filepath.Join(dir, "unicode ünï 日本.txt"), []byte("ünï\n"), 0o644, 1000, 1001)
	writeFile(t, filepath.Join(dir, "new\nline"), []byte("nl"), 0o600, 0, 0)
	writeFile(t, filepath.Join(dir, "log/app.log"), bytes.Repeat([]byte("2026-11-25 INFO all good here\n"), 50_000), 0o644, 1000, 1000)
	writeFile(t, filepath.Join(dir, "blob.bin"), randomBytes(1<<20), 0o600, 1000, 1000)
	writeFile(t, filepath.Join(dir, "empty-file"), nil, 0o644, 0, 0)
	must(t, os.MkdirAll(filepath.Join(dir, "empty/dir"), 0o700))
	must(t, os.Lchown(filepath.Join(dir, "empty"), 1000, 1000))
	must(t, os.Mkdir(filepath.Join(dir, "sticky"), 0o755))
	must(t, os.Chmod(filepath.Join(dir, "sticky"), 0o1777))
	must(t, os.Symlink("a/b/c/deep.txt", filepath.Join(dir, "link-to-deep")))
	must(t, os.Symlink("/nonexistent/target", filepath.Join(dir, "dangling")))
	must(t, os.Lchown(filepath.Join(dir, "dangling"), 1000, 1000))
	must(t, os.Link(filepath.Join(dir, "a/b/c/deep.txt"), filepath.Join(dir, "hard-to-deep")))
	must(t, os.Link(filepath.Join(dir, "blob.bin"), filepath.Join(dir, "a/blob-hard")))
	must(t, unix.Mkfifo(filepath.Join(dir, "a/fifo"), 0o620))
	_ = unix.Lsetxattr(filepath.Join(dir, "a/b/c/deep.txt"), "user.maim", []byte("xattr-value"), 0)
	for i := 0; i < 50; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("many/%02d/f%03d", i%7, i)), []byte(strings.Repeat("x", i*37)), 0o644, 1000+i%3, 1000)
	}
	must(t, os.Chmod(dir, 0o751))
	must(t, os.Lchown(dir, 1000, 1000))
	setTimes(t, dir)
}

// setTimes gives every non-symlink a distinct nanosecond mtime, children before parents.
func setTimes(t testing.TB, dir string) {
	t.Helper()
	var paths []string
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink == 0 {
			paths = append(paths, p)
		}
		return err
	}))
	for i := len(paths) - 1; i >= 0; i-- {
		ts := baseTime.Add(time.Duration(i) * (time.Second + 7*time.Millisecond))
		must(t, os.Chtimes(paths[i], ts, ts))
	}
}

// fillJunk makes a tree that overlaps the rich one with other content, types and owners.
func fillJunk(t testing.TB, dir string) {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o777))
	writeFile(t, filepath.Join(dir, "a/b/c/deep.txt"), []byte("changed!"), 0o666, 2000, 2000)
	writeFile(t, filepath.Join(dir, "extra/file"), []byte("not in the archive"), 0o644, 0, 0)
	writeFile(t, filepath.Join(dir, "link-to-deep"), []byte("a file where a symlink belongs"), 0o644, 0, 0)
	must(t, os.MkdirAll(filepath.Join(dir, "blob.bin/now-a-dir"), 0o755))
	must(t, os.Symlink("/etc", filepath.Join(dir, "extra-link")))
	must(t, os.Chmod(dir, 0o777))
}

func tempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "maim-volume-test-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func hostTree(t testing.TB, dir string) tree {
	t.Helper()
	tr, err := readTree(dir)
	must(t, err)
	return tr
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func backupBytes(t testing.TB, m Mover, tg Target, opts BackupOptions) ([]byte, archive.Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := m.Backup(ctxT(t), tg, &buf, opts)
	if err != nil {
		t.Fatalf("backup %s: %v", tg, err)
	}
	return buf.Bytes(), st
}

func restoreBytes(t testing.TB, m Mover, tg Target, data []byte, opts RestoreOptions) archive.Stats {
	t.Helper()
	st, err := m.Restore(ctxT(t), tg, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("restore %s: %v", tg, err)
	}
	return st
}

func checkScan(t testing.TB, data []byte, c archive.Compression, want archive.Stats) {
	t.Helper()
	dr, err := archive.Decompress(bytes.NewReader(data), c)
	must(t, err)
	defer dr.Close()
	got, err := archive.Scan(dr)
	must(t, err)
	got.Changed, want.Changed = 0, 0
	if got != want {
		t.Fatalf("Scan = %+v, backup reported %+v", got, want)
	}
}

func bind(dir string) Target { return Target{Kind: KindBind, HostPath: dir} }
func vol(name string) Target { return Target{Kind: KindVolume, VolumeName: name} }

func noLeftovers(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		if ids := leftoverContainers(t); len(ids) > 0 {
			t.Errorf("helper containers left behind: %v", ids)
			for _, id := range ids {
				_ = removeContainer(engine(t), id)
			}
		}
	})
}

var errCanceledWrite = errors.New("canceled writer")

func newTarReader(r io.Reader) *tar.Reader { return tar.NewReader(r) }
