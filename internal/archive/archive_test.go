//go:build linux || darwin

package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pack archives dir with codec c into memory.
func pack(t testing.TB, dir string, c Compression, opts WriteOptions) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	w, err := Compress(&buf, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := WriteTar(context.Background(), w, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

func unpack(t testing.TB, data []byte, c Compression, dest string, opts ExtractOptions) (Stats, error) {
	t.Helper()
	r, err := Decompress(bytes.NewReader(data), c)
	if err != nil {
		return Stats{}, err
	}
	defer r.Close()
	return Extract(context.Background(), r, dest, opts)
}

func scan(data []byte, c Compression) (Stats, error) {
	r, err := Decompress(bytes.NewReader(data), c)
	if err != nil {
		return Stats{}, err
	}
	defer r.Close()
	return Scan(r)
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []Compression{Zstd, Gzip, None} {
		t.Run(string(c), func(t *testing.T) {
			src := filepath.Join(tempDir(t), "src")
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			f := makeTree(t, src)
			t.Logf("features: %+v", f)
			want := snapshot(t, src)
			data, wst := pack(t, src, c, WriteOptions{})
			if wst.Files != 13 || wst.Entries != int64(len(want)) || wst.Changed != 0 {
				t.Errorf("write stats %+v, tree has %d entries", wst, len(want))
			}
			sst, err := scan(data, c)
			if err != nil {
				t.Fatal(err)
			}
			if sst != wst {
				t.Errorf("scan stats %+v != write stats %+v", sst, wst)
			}
			dest := filepath.Join(tempDir(t), "dest")
			est, err := unpack(t, data, c, dest, ExtractOptions{AllowDevices: true})
			if err != nil {
				t.Fatal(err)
			}
			if est != wst {
				t.Errorf("extract stats %+v != write stats %+v", est, wst)
			}
			got := snapshot(t, dest)
			if d := diffTrees(want, got, !isRoot()); d != "" {
				t.Errorf("round trip differs:\n%s", d)
			}
			// The hardlinks really share one inode.
			var a, b unix.Stat_t
			unix.Lstat(filepath.Join(dest, "hard/one"), &a)
			unix.Lstat(filepath.Join(dest, "a/three"), &b)
			if a.Ino != b.Ino || a.Nlink != 3 {
				t.Errorf("hardlinks not restored: ino %d/%d nlink %d", a.Ino, b.Ino, a.Nlink)
			}
			// Extracting again over the result is a no-op.
			if _, err := unpack(t, data, c, dest, ExtractOptions{AllowDevices: true}); err != nil {
				t.Fatal(err)
			}
			if d := diffTrees(want, snapshot(t, dest), !isRoot()); d != "" {
				t.Errorf("second extract differs:\n%s", d)
			}
		})
	}
}

func TestEntryOrderAndNames(t *testing.T) {
	src := tempDir(t)
	makeTree(t, src)
	data, _ := pack(t, src, None, WriteOptions{})
	rd := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Format != tar.FormatPAX && h.Format != tar.FormatUSTAR {
			t.Errorf("%q: format %v", h.Name, h.Format)
		}
		names = append(names, h.Name)
		switch h.Name {
		case "./":
			if h.Typeflag != tar.TypeDir || h.Mode != 0o751 {
				t.Errorf("root entry %+v", h)
			}
		case "./a/setuid":
			if h.Mode != 0o6755 {
				t.Errorf("setuid mode %o", h.Mode)
			}
		case "./sticky/":
			if h.Mode != 0o1777 {
				t.Errorf("sticky mode %o", h.Mode)
			}
		case "./sock":
			t.Errorf("socket archived")
		}
	}
	if names[0] != "./" || names[1] != "./a/" || names[2] != "./a/b/" {
		t.Errorf("order: %q", names[:3])
	}
	// Deterministic: a second run gives identical bytes.
	again, _ := pack(t, src, None, WriteOptions{})
	if !bytes.Equal(data, again) {
		t.Error("two archives of the same tree differ")
	}
	z1, _ := pack(t, src, Zstd, WriteOptions{})
	z2, _ := pack(t, src, Zstd, WriteOptions{})
	if !bytes.Equal(z1, z2) {
		t.Error("two zstd archives of the same tree differ")
	}
}

func TestExactSync(t *testing.T) {
	src := tempDir(t)
	makeTree(t, src)
	want := snapshot(t, src)
	data, _ := pack(t, src, Zstd, WriteOptions{})

	dest := tempDir(t)
	mk := func(rel, content string) {
		p := filepath.Join(dest, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("stale.txt", "old")
	mk("a/b/stale", "old")
	mk("deep/er/stuff/x", "old") // whole stale subtree
	mk("empty-dir/old", "old")   // dir in archive, stale content
	mk("big.log/inner", "dir where the archive has a file")
	mk("a/private", "old content, other mode")
	os.Chmod(filepath.Join(dest, "a/private"), 0o777)
	mk("empty-file", "not empty")
	os.WriteFile(filepath.Join(dest, "sticky"), []byte("file where the archive has a dir"), 0o644)
	os.Symlink("/", filepath.Join(dest, "ro-dir")) // symlink where the archive has a dir
	os.Symlink("/tmp", filepath.Join(dest, "abs-link"))
	os.Symlink("/etc", filepath.Join(dest, "hard")) // would redirect hard/one outside
	// A hardlink in dest to a file outside it must not see the new content.
	outside := filepath.Join(tempDir(t), "outside")
	os.WriteFile(outside, []byte("outside"), 0o644)
	os.Link(outside, filepath.Join(dest, "with space"))

	if _, err := unpack(t, data, Zstd, dest, ExtractOptions{AllowDevices: true}); err != nil {
		t.Fatal(err)
	}
	if d := diffTrees(want, snapshot(t, dest), !isRoot()); d != "" {
		t.Errorf("exact sync differs:\n%s", d)
	}
	if b, _ := os.ReadFile(outside); string(b) != "outside" {
		t.Errorf("file outside dest changed: %q", b)
	}
}

func TestSingleFile(t *testing.T) {
	dir := tempDir(t)
	src := filepath.Join(dir, "config.toml")
	os.WriteFile(src, []byte("key = 1\n"), 0o640)
	mtime := time.Unix(1600000000, 42)
	os.Chtimes(src, mtime, mtime)
	data, st := pack(t, src, Gzip, WriteOptions{})
	if st.Entries != 1 || st.Files != 1 || st.Bytes != 8 {
		t.Errorf("stats %+v", st)
	}
	r, _ := Decompress(bytes.NewReader(data), Gzip)
	h, err := tar.NewReader(r).Next()
	if err != nil || h.Name != "config.toml" || h.Typeflag != tar.TypeReg {
		t.Fatalf("entry %+v, %v", h, err)
	}
	destDir := tempDir(t)
	dest := filepath.Join(destDir, "restored.toml")
	os.WriteFile(dest, []byte("old and longer content"), 0o600)
	if _, err := unpack(t, data, Gzip, dest, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(dest)
	fi, _ := os.Stat(dest)
	if string(b) != "key = 1\n" || fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mtime) {
		t.Errorf("restored %q mode %v mtime %v", b, fi.Mode(), fi.ModTime())
	}
	if ents, _ := os.ReadDir(destDir); len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
	// A directory at dest is not silently replaced by a file.
	if _, err := unpack(t, data, Gzip, tempDir(t), ExtractOptions{}); err == nil {
		t.Error("single-file archive extracted over a directory")
	}
}

// tarOf builds an uncompressed archive from headers (content for regular
// files is the Linkname field's length in "x" bytes when Size is set).
func tarOf(t testing.TB, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func dirH(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}
}
func fileH(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: 5}
}
func linkH(name, target string, typ byte) *tar.Header {
	return &tar.Header{Name: name, Typeflag: typ, Linkname: target}
}

func TestHostileArchives(t *testing.T) {
	outside := tempDir(t)
	victim := filepath.Join(outside, "passwd")
	os.WriteFile(victim, []byte("root:x:0:0"), 0o644)
	cases := []struct {
		name   string
		data   []byte
		bad    string // entry that must be named in the error
		inScan bool   // Scan refuses it too
	}{
		{"dotdot", tarOf(t, dirH("./"), fileH("../evil")), "../evil", true},
		{"dotdot-inner", tarOf(t, dirH("./"), dirH("./a/"), fileH("./a/../../evil")), "./a/../../evil", true},
		{"absolute", tarOf(t, dirH("./"), fileH("/etc/evil")), "/etc/evil", true},
		{"symlink-then-file", tarOf(t, dirH("./"), linkH("./a", outside, tar.TypeSymlink), fileH("./a/passwd")), "./a/passwd", true},
		{"symlink-inside-then-file", tarOf(t, dirH("./"), dirH("./b/"), linkH("./a", "b", tar.TypeSymlink), fileH("./a/x")), "./a/x", true},
		{"symlink-then-dir", tarOf(t, dirH("./"), linkH("./a", outside, tar.TypeSymlink), dirH("./a/sub/")), "./a/sub/", true},
		{"file-then-child", tarOf(t, dirH("./"), fileH("./f"), fileH("./f/x")), "./f/x", true},
		{"hardlink-outside-abs", tarOf(t, dirH("./"), linkH("./h", victim, tar.TypeLink)), "./h", true},
		{"hardlink-outside-rel", tarOf(t, dirH("./"), linkH("./h", "../../../../../../"+victim, tar.TypeLink)), "./h", true},
		{"hardlink-not-yet", tarOf(t, dirH("./"), linkH("./h", "./later", tar.TypeLink), fileH("./later")), "./h", true},
		{"hardlink-to-dir", tarOf(t, dirH("./"), dirH("./d/"), linkH("./h", "./d", tar.TypeLink)), "./h", true},
		{"hardlink-through-symlink", tarOf(t, dirH("./"), linkH("./s", outside, tar.TypeSymlink), linkH("./h", "./s/passwd", tar.TypeLink)), "./h", true},
		{"char-device", tarOf(t, dirH("./"), &tar.Header{Name: "./mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1}), "./mem", false},
		{"block-device", tarOf(t, dirH("./"), &tar.Header{Name: "./sda", Typeflag: tar.TypeBlock, Devmajor: 8}), "./sda", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(tempDir(t), "dest")
			_, err := Extract(context.Background(), bytes.NewReader(tc.data), dest, ExtractOptions{})
			var ue *UnsafeEntryError
			if !errors.As(err, &ue) {
				t.Fatalf("Extract: want *UnsafeEntryError, got %v", err)
			}
			if ue.Name != tc.bad {
				t.Errorf("error names %q, want %q (%v)", ue.Name, tc.bad, err)
			}
			_, err = Scan(bytes.NewReader(tc.data))
			if tc.inScan && !errors.As(err, &ue) {
				t.Errorf("Scan: want *UnsafeEntryError, got %v", err)
			}
			if !tc.inScan && err != nil {
				t.Errorf("Scan: %v", err)
			}
			if b, _ := os.ReadFile(victim); string(b) != "root:x:0:0" {
				t.Fatalf("victim changed: %q", b)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 1 {
				t.Fatalf("something was written outside: %v", ents)
			}
		})
	}
}

func TestDevicesAllowed(t *testing.T) {
	if !isRoot() {
		t.Skip("mknod needs root")
	}
	data := tarOf(t, dirH("./"), &tar.Header{Name: "./null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666})
	dest := tempDir(t)
	_, err := Extract(context.Background(), bytes.NewReader(data), dest, ExtractOptions{AllowDevices: true})
	if errors.Is(err, unix.EPERM) {
		t.Skipf("no CAP_MKNOD: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Lstat(filepath.Join(dest, "null"), &st)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(rdev(&st)) != 1 || unix.Minor(rdev(&st)) != 3 {
		t.Errorf("device not restored: %+v", st)
	}
}

// Archives of plain file lists (no directory entries) extract, creating parents.
func TestImplicitDirsAndForeignArchives(t *testing.T) {
	data := tarOf(t, fileH("x/y/z"), fileH("x/w"), fileH("top"))
	dest := tempDir(t)
	os.WriteFile(filepath.Join(dest, "stale"), nil, 0o644)
	st, err := Extract(context.Background(), bytes.NewReader(data), dest, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 {
		t.Errorf("stats %+v", st)
	}
	for _, p := range []string{"x/y/z", "x/w", "top"} {
		if b, err := os.ReadFile(filepath.Join(dest, p)); err != nil || string(b) != "xxxxx" {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dest, "stale")); !os.IsNotExist(err) {
		t.Error("stale file kept")
	}
}

func TestTruncatedAndCorrupt(t *testing.T) {
	src := tempDir(t)
	makeTree(t, src)
	for _, c := range []Compression{Zstd, Gzip, None} {
		t.Run(string(c), func(t *testing.T) {
			data, _ := pack(t, src, c, WriteOptions{})
			if _, err := scan(data, c); err != nil {
				t.Fatal(err)
			}
			cuts := []int{len(data) - 1, len(data) - 4, len(data) / 2, len(data) / 3, 600, 10}
			if c == None {
				// Cut at block boundaries too: only the end marker tells.
				cuts = append(cuts, len(data)-1024, len(data)-512, (len(data)/2)&^511)
			}
			for _, n := range cuts {
				if _, err := scan(data[:n], c); err == nil {
					t.Errorf("truncated at %d/%d: Scan succeeded", n, len(data))
				}
			}
			if c == None {
				return // no checksum: bit flips in content are the backup store's sha256's job
			}
			end := len(data)
			if c == Zstd {
				// The entry table and seek table (skippable frames, which decoders skip; the
				// store's sha256 guards them) end the file: flip bits in the frames before.
				end = bytes.LastIndex(data, []byte{0x5B, 0x2A, 0x4D, 0x18})
			}
			for _, pos := range []int{end / 2, end / 3, end * 3 / 4, end - 6, 40} {
				bad := bytes.Clone(data)
				bad[pos] ^= 0x10
				if _, err := scan(bad, c); err == nil {
					t.Errorf("bit flip at %d/%d: Scan succeeded", pos, len(data))
				}
			}
		})
	}
}

func TestTruncatedExtractDoesNotPrune(t *testing.T) {
	src := tempDir(t)
	os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(src, "b"), []byte("b"), 0o644)
	data, _ := pack(t, src, None, WriteOptions{})
	dest := tempDir(t)
	os.WriteFile(filepath.Join(dest, "keep-me"), []byte("precious"), 0o644)
	_, err := Extract(context.Background(), bytes.NewReader(data[:len(data)-1024]), dest, ExtractOptions{})
	if err == nil {
		t.Fatal("truncated archive extracted without error")
	}
	if _, err := os.Stat(filepath.Join(dest, "keep-me")); err != nil {
		t.Errorf("truncated extract pruned dest: %v", err)
	}
}

func TestExcludes(t *testing.T) {
	src := tempDir(t)
	for _, p := range []string{"keep.txt", "app.log", "sub/app.log", "cache/x/y", "cache/z", "tmp/a", "sub/tmp/b", "sub/keep"} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(src, p), []byte(p), 0o644)
	}
	// "**/*.log": .dockerignore's "*.log" is the root's only (see TestExcludesDockerignore).
	data, _ := pack(t, src, None, WriteOptions{Excludes: []string{"**/*.log", "cache/**", "./sub/tmp/"}})
	var names []string
	rd := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := rd.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	want := "./ ./cache/ ./keep.txt ./sub/ ./sub/keep ./tmp/ ./tmp/a"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries\n got %s\nwant %s", got, want)
	}
}

// TestExtractKeepsExcluded: a restore with the backup's excludes leaves every excluded path
// as it is (not removed, not written), also when the archive holds an entry for it, and
// still syncs everything else exactly.
func TestExtractKeepsExcluded(t *testing.T) {
	src, dest := tempDir(t), tempDir(t)
	write := func(root string, files map[string]string) {
		for p, c := range files {
			if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	excludes := []string{"**/*.log", "cache/**", "./sub/tmp/"}
	write(src, map[string]string{"keep.txt": "v1", "sub/keep": "v1", "cache/old": "in backup"})
	data, _ := pack(t, src, None, WriteOptions{Excludes: excludes})
	// the archive also carries an entry the patterns match (a forged or older one)
	forged := tarOf(t, dirH("./"), fileH("./keep.txt"), fileH("./app.log"))
	write(dest, map[string]string{
		"keep.txt": "changed", "stray": "not in the backup", "app.log": "live log", "sub/app.log": "live",
		"cache/x/y": "live cache", "sub/tmp/b": "live tmp", "sub/keep": "changed",
	})
	if _, err := unpack(t, data, None, dest, ExtractOptions{Excludes: excludes}); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dest, p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	for p, want := range map[string]string{
		"keep.txt": "v1", "sub/keep": "v1", "app.log": "live log", "sub/app.log": "live",
		"cache/x/y": "live cache", "sub/tmp/b": "live tmp",
	} {
		if got := read(p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(dest, "stray")); !os.IsNotExist(err) {
		t.Errorf("stray file survived the exact sync: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "cache/old")); !os.IsNotExist(err) {
		t.Errorf("cache/old was written although cache/** is excluded: %v", err)
	}
	if _, err := unpack(t, forged, None, dest, ExtractOptions{Excludes: excludes}); err != nil {
		t.Fatal(err)
	}
	if got := read("app.log"); got != "live log" {
		t.Errorf("an archive entry overwrote the excluded app.log: %q", got)
	}
	// sub is not in that archive: it goes, except what the patterns keep
	if got := read("sub/app.log") + read("sub/tmp/b"); got != "livelive tmp" {
		t.Errorf("excluded files in a pruned directory: %q", got)
	}
	if _, err := os.Lstat(filepath.Join(dest, "sub/keep")); !os.IsNotExist(err) {
		t.Errorf("sub/keep survived the exact sync: %v", err)
	}
}

func TestChangingFiles(t *testing.T) {
	for _, grow := range []bool{false, true} {
		t.Run(map[bool]string{false: "shrink", true: "grow"}[grow], func(t *testing.T) {
			src := tempDir(t)
			big := filepath.Join(src, "a-big")
			content := bytes.Repeat([]byte("y"), 3*copyBufSize)
			os.WriteFile(big, content, 0o644)
			os.WriteFile(filepath.Join(src, "b-vanishes"), []byte("b"), 0o644)
			os.MkdirAll(filepath.Join(src, "c-dir-vanishes/sub"), 0o755)
			once := false
			var warned []string
			opts := WriteOptions{
				Progress: func(n int64) {
					if once {
						return
					}
					once = true
					if grow {
						f, _ := os.OpenFile(big, os.O_APPEND|os.O_WRONLY, 0)
						f.Write(bytes.Repeat([]byte("z"), copyBufSize))
						f.Close()
					} else {
						os.Truncate(big, copyBufSize+10)
					}
					os.Remove(filepath.Join(src, "b-vanishes"))
					os.RemoveAll(filepath.Join(src, "c-dir-vanishes"))
				},
				Warn: func(p string, err error) { warned = append(warned, filepath.Base(p)) },
			}
			data, st := pack(t, src, Zstd, opts)
			if st.Changed != 1 || st.Files != 1 || st.Bytes != int64(len(content)) {
				t.Errorf("stats %+v", st)
			}
			if len(warned) != 3 {
				t.Errorf("warnings for %q", warned)
			}
			sst, err := scan(data, Zstd)
			if err != nil {
				t.Fatal(err)
			}
			if sst.Entries != 2 || sst.Bytes != st.Bytes {
				t.Errorf("scan %+v write %+v", sst, st)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	src := tempDir(t)
	makeTree(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WriteTar(ctx, io.Discard, src, WriteOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteTar: %v", err)
	}
	data, _ := pack(t, src, None, WriteOptions{})
	if _, err := Extract(ctx, bytes.NewReader(data), tempDir(t), ExtractOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Extract: %v", err)
	}
}

func TestCompressionNames(t *testing.T) {
	for in, want := range map[string]Compression{"zstd": Zstd, "GZIP": Gzip, "none": None, "gz": Gzip} {
		if got, err := ParseCompression(in); err != nil || got != want {
			t.Errorf("ParseCompression(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseCompression("lz4"); err == nil {
		t.Error("lz4 accepted")
	}
	for _, c := range []Compression{Zstd, Gzip, None} {
		if got := DetectCompression("vol-data" + c.Ext()); got != c {
			t.Errorf("DetectCompression(%q) = %q", c.Ext(), got)
		}
	}
	if _, err := Compress(io.Discard, Zstd, 23); err == nil {
		t.Error("zstd level 23 accepted")
	}
	if _, err := Compress(io.Discard, Gzip, 10); err == nil {
		t.Error("gzip level 10 accepted")
	}
}

// System tar must read our archives, and we must read system tar's.
func TestSystemTarCompat(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar")
	}
	src := filepath.Join(tempDir(t), "src")
	os.Mkdir(src, 0o755)
	makeTree(t, src)
	want := snapshot(t, src)
	flags := []string{"--xattrs", "--xattrs-include=*", "--numeric-owner", "-p"}
	if isRoot() {
		flags = append(flags, "--same-owner")
	}
	for _, c := range []Compression{Zstd, Gzip} {
		t.Run("read-"+string(c), func(t *testing.T) {
			z := "--zstd"
			if c == Gzip {
				if _, err := exec.LookPath("gzip"); err != nil {
					t.Skip("no gzip")
				}
				z = "-z"
			} else if _, err := exec.LookPath("zstd"); err != nil {
				t.Skip("no zstd")
			}
			data, _ := pack(t, src, c, WriteOptions{})
			file := filepath.Join(tempDir(t), "a"+c.Ext())
			os.WriteFile(file, data, 0o600)
			dest := tempDir(t)
			args := append([]string{z, "-xf", file, "-C", dest}, flags...)
			if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
				t.Fatalf("tar %v: %v\n%s", args, err, out)
			}
			if d := diffTrees(want, snapshot(t, dest), !isRoot()); d != "" {
				t.Errorf("tar %s -x differs:\n%s", z, d)
			}
		})
	}
	t.Run("write-gnu-tar", func(t *testing.T) {
		file := filepath.Join(tempDir(t), "gnu.tar")
		args := append([]string{"--format=pax", "-cf", file, "-C", src, "."}, flags...)
		if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
			t.Fatalf("tar %v: %v\n%s", args, err, out)
		}
		data, _ := os.ReadFile(file)
		if _, err := Scan(bytes.NewReader(data)); err != nil {
			t.Fatalf("Scan of GNU tar archive: %v", err)
		}
		dest := tempDir(t)
		if _, err := Extract(context.Background(), bytes.NewReader(data), dest, ExtractOptions{AllowDevices: true}); err != nil {
			t.Fatal(err)
		}
		if d := diffTrees(want, snapshot(t, dest), !isRoot()); d != "" {
			t.Errorf("extract of GNU tar archive differs:\n%s", d)
		}
	})
}

func TestStaleDirXattrsAndOwnerOptions(t *testing.T) {
	src := tempDir(t)
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d/f"), []byte("f"), 0o644)
	if isRoot() {
		os.Lchown(filepath.Join(src, "d/f"), 4242, 4343)
	}
	data, _ := pack(t, src, None, WriteOptions{})
	dest := tempDir(t)
	os.MkdirAll(filepath.Join(dest, "d"), 0o755)
	if err := unix.Setxattr(filepath.Join(dest, "d"), "user.stale", []byte("x"), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			t.Skip("no user xattrs here")
		}
		t.Fatal(err)
	}
	unix.Setxattr(dest, "user.stale-root", []byte("x"), 0)
	if _, err := Extract(context.Background(), bytes.NewReader(data), dest, ExtractOptions{NoSameOwner: true}); err != nil {
		t.Fatal(err)
	}
	if x := xattrString(t, filepath.Join(dest, "d")); x != "" {
		t.Errorf("stale xattrs kept on d: %q", x)
	}
	if x := xattrString(t, dest); x != "" {
		t.Errorf("stale xattrs kept on root: %q", x)
	}
	var st unix.Stat_t
	unix.Lstat(filepath.Join(dest, "d/f"), &st)
	if int(st.Uid) != os.Geteuid() {
		t.Errorf("NoSameOwner: file owned by %d", st.Uid)
	}
	if isRoot() {
		if _, err := Extract(context.Background(), bytes.NewReader(data), dest, ExtractOptions{}); err != nil {
			t.Fatal(err)
		}
		unix.Lstat(filepath.Join(dest, "d/f"), &st)
		if st.Uid != 4242 || st.Gid != 4343 {
			t.Errorf("root default: owner %d:%d", st.Uid, st.Gid)
		}
	}
}

// tempDir is t.TempDir that can be removed even when a test left read-only
// directories in it (non-root users cannot delete inside a 0555 dir).
func tempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return dir
}

func TestSingleFileThroughSymlink(t *testing.T) {
	src := filepath.Join(tempDir(t), "localtime")
	os.WriteFile(src, []byte("TZif new"), 0o644)
	data, _ := pack(t, src, None, WriteOptions{})

	for _, abs := range []bool{false, true} {
		dir := tempDir(t)
		os.MkdirAll(filepath.Join(dir, "zoneinfo"), 0o755)
		real := filepath.Join(dir, "zoneinfo", "UTC")
		os.WriteFile(real, []byte("TZif old, longer"), 0o644)
		target := "zoneinfo/UTC"
		if abs {
			target = real
		}
		link := filepath.Join(dir, "localtime")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if _, err := unpack(t, data, None, link, ExtractOptions{}); err != nil {
			t.Fatalf("abs=%v: %v", abs, err)
		}
		if got, err := os.Readlink(link); err != nil || got != target {
			t.Errorf("abs=%v: the symlink was replaced: readlink = %q, %v", abs, got, err)
		}
		if b, _ := os.ReadFile(real); string(b) != "TZif new" {
			t.Errorf("abs=%v: the file behind the link holds %q", abs, b)
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "zoneinfo")); len(ents) != 1 {
			t.Errorf("abs=%v: temp files left: %v", abs, ents)
		}
	}

	// A link that leads nowhere, or to a directory, is refused and left as it is.
	dir := tempDir(t)
	dangling := filepath.Join(dir, "dangling")
	os.Symlink(filepath.Join(dir, "missing", "file"), dangling)
	toDir := filepath.Join(dir, "todir")
	os.Symlink(dir, toDir)
	for _, link := range []string{dangling, toDir} {
		before, _ := os.Readlink(link)
		if _, err := unpack(t, data, None, link, ExtractOptions{}); err == nil {
			t.Errorf("%s: extracted a single file through a link that does not lead to a file", link)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symlink", link)
		} else if after, _ := os.Readlink(link); after != before {
			t.Errorf("%s now points to %q, was %q", link, after, before)
		}
	}
}

func TestSymlinkedRootIsFollowed(t *testing.T) {
	real := tempDir(t)
	os.WriteFile(filepath.Join(real, "a"), []byte("a\n"), 0o644)
	os.Symlink("a", filepath.Join(real, "inner-link"))
	link := filepath.Join(tempDir(t), "data")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	data, st := pack(t, link, None, WriteOptions{})
	if st.Files != 1 || st.Entries != 3 {
		t.Errorf("stats %+v, want the root, a and inner-link", st)
	}
	dest := filepath.Join(tempDir(t), "x")
	if _, err := unpack(t, data, None, dest, ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(filepath.Join(dest, "inner-link")); err != nil || got != "a" {
		t.Errorf("a symlink inside the root is archived as a link: %q, %v", got, err)
	}
}

// TestExtractNeverReplacesAFileByADirectory: a directory archive over a file at dest (a
// project file restored from a forged backup) is refused and the file kept; a first entry
// with a hostile name is refused before dest is looked at.
func TestExtractNeverReplacesAFileByADirectory(t *testing.T) {
	for name, hdrs := range map[string][]*tar.Header{
		"directory archive": {dirH("./"), fileH("./a")},
		"hostile first":     {fileH("../escape")},
		"absolute first":    {fileH("/escape")},
	} {
		t.Run(name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "compose.yaml")
			if err := os.WriteFile(dest, []byte("services: {}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Extract(context.Background(), bytes.NewReader(tarOf(t, hdrs...)), dest, ExtractOptions{})
			var ue *UnsafeEntryError
			if err == nil || (name != "directory archive") != errors.As(err, &ue) {
				t.Fatalf("Extract = %v", err)
			}
			if b, err := os.ReadFile(dest); err != nil || string(b) != "services: {}\n" {
				t.Errorf("the file at dest changed: %q, %v", b, err)
			}
			if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 1 {
				t.Errorf("the directory holds %d entries, want the file alone", len(ents))
			}
		})
	}
}
