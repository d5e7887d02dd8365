package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/testrig"
	"golang.org/x/sys/unix"
)

// dataCompose never runs: backups and restores of its sources need no container.
const dataCompose = `services:
  app:
    image: maim-e2e-never-pulled:1
    volumes:
      - ./data:/data
`

// craftArchive returns a zstd-compressed PAX tar of entries and its counts.
func craftArchive(t testing.TB, entries []*tar.Header, content map[string]string) (b []byte, n, files, size int64) {
	t.Helper()
	var buf bytes.Buffer
	zw, err := archive.Compress(&buf, archive.Zstd, 0)
	must(t, err)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		h.Format = tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(content[h.Name]))
			files++
			size += h.Size
		}
		must(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(content[h.Name]))
			must(t, err)
		}
		n++
	}
	must(t, tw.Close())
	must(t, zw.Close())
	return buf.Bytes(), n, files, size
}

// forgeBackup copies backup id of p to a new backup ID whose archive of source is replaced
// by data, and writes a manifest with the right sha256, size and counts for it.
func forgeBackup(t testing.TB, p *project, id, newID, source string, data []byte, entries, files, size int64) {
	t.Helper()
	src, dst := p.backupPath(id), p.backupPath(newID)
	must(t, os.Mkdir(dst, 0o700))
	des, err := os.ReadDir(src)
	must(t, err)
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dst, de.Name()), b, 0o600))
	}
	b, err := os.ReadFile(filepath.Join(dst, "manifest.json"))
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(b, &m))
	m["id"] = newID
	found := false
	for _, s := range m["sources"].([]any) {
		s := s.(map[string]any)
		if s["name"] != source {
			continue
		}
		found = true
		sum := sha256.Sum256(data)
		s["sha256"], s["archive_size"] = hex.EncodeToString(sum[:]), len(data)
		s["entries"], s["files"], s["bytes"] = entries, files, size
		must(t, os.WriteFile(filepath.Join(dst, s["archive"].(string)), data, 0o600))
	}
	if !found {
		t.Fatalf("backup %s has no source %s", id, source)
	}
	b, err = json.MarshalIndent(m, "", "  ")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dst, "manifest.json"), b, 0o600))
}

func TestHostileArchive(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "hostile", dataCompose)
	writeTree(t, p.Path("data"), map[string]string{"ok.txt": "fine\n", "sub/x": "x"})
	id := p.backup()
	dataHash := testrig.TreeHash(t, p.Path("data"))
	composeHash := testrig.TreeHash(t, p.File)
	outside := filepath.Join(p.Root, "outside")
	must(t, os.Mkdir(outside, 0o755))

	dir := func(name string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}
	}
	file := func(name string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}
	}
	link := func(name, target string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}
	}
	// verify (a full scan) refuses every hostile name but device nodes (scanOK). restore
	// checks only the archives' hashes before it stops anything, and these forged backups
	// have right ones: the extraction refuses each hostile entry before it writes it, after
	// the safety backup, which is put back.
	cases := []struct {
		name, source string
		entries      []*tar.Header
		scanOK       bool
	}{
		{"dotdot", "./data", []*tar.Header{dir("./"), file("./ok.txt"), file("../escape")}, false},
		{"deep dotdot", "./data", []*tar.Header{dir("./"), dir("./sub/"), file("./sub/../../escape")}, false},
		{"absolute", "./data", []*tar.Header{dir("./"), file(filepath.Join(outside, "escape"))}, false},
		{"symlink then file", "./data", []*tar.Header{dir("./"), link("./link", outside), file("./link/escape")}, false},
		{"relative symlink then file", "./data", []*tar.Header{dir("./"), link("./up", "../../outside"), file("./up/escape")}, false},
		{"device node", "./data", []*tar.Header{dir("./"), {Name: "./null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}, true},
		{"project file dotdot", "file:compose.yaml", []*tar.Header{file("../escape")}, false},
	}
	content := map[string]string{}
	safety := 0 // safety backups: one per restore
	for i, c := range cases {
		for _, h := range c.entries {
			content[h.Name] = "pwned\n"
		}
		newID := "20000101T0000" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "Z"
		data, n, files, size := craftArchive(t, c.entries, content)
		forgeBackup(t, p, id, newID, c.source, data, n, files, size)

		r := p.maim("verify", newID)
		if c.scanOK {
			mustOK(t, r)
		} else {
			wantFail(t, r, 3, "unsafe archive entry")
		}
		r = p.maim("restore", newID)
		if r.Code == 0 {
			t.Errorf("%s: restore of a hostile archive succeeded: %s", c.name, r)
			continue
		}
		if !strings.Contains(lastLine(r.Stderr), "unsafe archive entry") {
			t.Errorf("%s: the error does not say why: %s", c.name, r)
		}
		if !strings.Contains(lastLine(r.Stderr), "put back") {
			t.Errorf("%s: the error does not say the data was put back: %s", c.name, r)
		}
		safety++
	}

	// nothing was written anywhere outside (or inside) the sources
	must(t, filepath.WalkDir(p.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), "escape") || d.Name() == "null" {
			t.Errorf("a hostile entry was written: %s", path)
		}
		return nil
	}))
	for _, path := range []string{"/escape", "/tmp/escape", filepath.Join(os.TempDir(), "escape")} {
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("a hostile entry was written: %s", path)
		}
	}
	if testrig.TreeHash(t, p.Path("data")) != dataHash || testrig.TreeHash(t, p.File) != composeHash {
		t.Errorf("a refused restore changed the data")
	}
	if rows := p.backups(); len(rows) != 1+len(cases)+safety {
		t.Errorf("%d backups, want %d: the forged ones and a safety backup per restore", len(rows), 1+len(cases)+safety)
	}
}

func TestLock(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "lock", dataCompose)
	writeTree(t, p.Path("data"), map[string]string{"a": "a"})
	id := p.backup()

	dir := projectStateDir(t, p.Name)
	must(t, os.MkdirAll(dir, 0o700))
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	must(t, err)
	defer f.Close()
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	_, err = f.WriteString("pid 4242: e2e test holder\n")
	must(t, err)
	for _, args := range [][]string{{"backup"}, {"restore", id}, {"verify", id}} {
		r := p.maim(args...)
		wantFail(t, r, 4, p.Name, "e2e test holder")
		onlyLine(t, r)
	}
	if rows := p.backups(); len(rows) != 1 {
		t.Errorf("a refused backup left something: %+v", rows)
	}
	// released: the same command works
	must(t, unix.Flock(int(f.Fd()), unix.LOCK_UN))
	p.backup()
}

func TestDiskFullDuringBackup(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	small := filepath.Join(t.TempDir(), "small")
	must(t, os.Mkdir(small, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", small).CombinedOutput(); err != nil {
		if testrig.InCI() {
			t.Fatalf("mount a 2 MiB tmpfs: %v %s (CI is set: not skipping)", err, out)
		}
		t.Skipf("mount a 2 MiB tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", small).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", small, err, out)
		}
	})

	p := newProject(t, "diskfull", `services:
  app:
    image: {{bot:1.0.0}}
    volumes:
      - appdata:/bot/data
      - ./big:/big
volumes:
  appdata: {}
`)
	big := make([]byte, 4<<20) // incompressible: no codec makes this fit in 2 MiB
	_, err := rand.Read(big)
	must(t, err)
	must(t, os.MkdirAll(p.Path("big"), 0o755))
	must(t, os.WriteFile(p.Path("big/blob"), big, 0o644))
	compose(t, p, "up", "-d", "--wait")
	before := p.containers()["app"].State.StartedAt

	r := p.maim("--backup-dir", small, "backup")
	if r.Code == 0 {
		t.Fatalf("a backup bigger than its disk succeeded: %s", r)
	}
	if !strings.Contains(lastLine(r.Stderr), "no space left") {
		t.Errorf("the error does not say the disk is full: %s", r)
	}
	must(t, filepath.WalkDir(small, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(small, path)
		switch {
		case strings.HasSuffix(path, ".partial"):
			t.Errorf("partial file left: %s", rel)
		case d.IsDir() && strings.Count(rel, string(filepath.Separator)) == 1:
			if _, err := os.Stat(filepath.Join(path, "manifest.json")); err != nil {
				t.Errorf("backup dir without manifest left: %s", rel)
			}
		case !d.IsDir() && d.Name() != ".lock" && strings.Count(rel, string(filepath.Separator)) >= 1:
			t.Errorf("file left: %s", rel)
		}
		return nil
	}))
	if rows := parseRows(t, mustOK(t, p.maim("--backup-dir", small, "backups", "--format", "json"))); len(rows) != 0 {
		t.Errorf("backups after a failed backup: %+v", rows)
	}
	// Two passes (the default): the disk fills in pass one, while everything runs, so the
	// app was never stopped.
	if c := p.containers()["app"]; !c.State.Running || c.State.StartedAt != before {
		t.Errorf("app was stopped by a backup that failed before the stop, or is not running: %+v", c.State)
	}
	// One pass: the disk fills with the app stopped; it is started again.
	r = p.maim("--backup-dir", small, "backup", "--one-pass")
	if r.Code == 0 || !strings.Contains(lastLine(r.Stderr), "no space left") {
		t.Fatalf("--one-pass: a backup bigger than its disk: %s", r)
	}
	if c := p.containers()["app"]; !c.State.Running || c.State.StartedAt == before {
		t.Errorf("app is not running again after the failed --one-pass backup (or was never stopped): %+v", c.State)
	}
	if rows := parseRows(t, mustOK(t, p.maim("--backup-dir", small, "backups", "--format", "json"))); len(rows) != 0 {
		t.Errorf("backups after a failed --one-pass backup: %+v", rows)
	}
	// with room, the same backup works and is indeed bigger than the tmpfs
	id := p.backup()
	if m := p.manifest(id); m.source(t, "./big").Size < 2<<20 {
		t.Errorf("the archive of ./big is only %d bytes: the disk-full case proved nothing", m.source(t, "./big").Size)
	}
}
