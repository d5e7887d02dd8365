package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// fullCompose has every kind of data source: a named volume, an anonymous volume from the
// compose file (/cache) and two from the image's VOLUME /bot/data (bot, idle), a bind
// directory, a bind single file, and compose + .env files. bot depends on store; idle is
// stopped before the tests start.
const fullCompose = `services:
  store:
    image: {{bot:1.0.0}}
    environment:
      GREETING: ${GREETING}
    volumes:
      - storedata:/bot/data
      - /cache
      - ./config:/bot/config
      - ./settings.toml:/etc/maim/settings.toml:ro
  bot:
    image: {{bot:1.0.0}}
    depends_on: [store]
  idle:
    image: {{bot:1.0.0}}
volumes:
  storedata: {}
`

// fullProject is a running project of fullCompose whose volumes and bind sources hold
// awkward test data (see seedData); store and bot run, idle is stopped.
type fullProject struct {
	*project
	vol, cache string // data dirs of the named volume storedata and the anonymous /cache
	cacheName  string // engine name of the anonymous /cache volume
}

func newFullProject(t *testing.T, name string) *fullProject {
	t.Helper()
	p := newProject(t, name, fullCompose)
	p.WriteFile(".env", "GREETING=hello\n")
	p.WriteFile("settings.toml", "[settings]\nlevel = 1\n")
	seedData(t, p.Path("config"))
	compose(t, p, "up", "-d", "--wait")
	compose(t, p, "stop", "idle")
	fp := &fullProject{project: p}
	fp.vol = p.volumeDir(p.Name + "_storedata")
	fp.cacheName = p.anonVolume("store", "/cache")
	fp.cache = p.volumeDir(fp.cacheName)
	seedData(t, fp.vol)
	seedData(t, fp.cache)
	return fp
}

// seedData writes files that an archive must keep exactly: unicode, spaces and a newline in
// names, an empty file and an empty dir, a symlink, a hardlink, modes and a foreign owner.
func seedData(t testing.TB, dir string) {
	t.Helper()
	writeTree(t, dir, map[string]string{
		"notes/hello.txt":          "hello\n",
		"名前 with space.txt":        "unicode\n",
		"line\nbreak":              "newline in the name\n",
		"empty-file":               "",
		"deep/a/b/c/d.bin":         strings.Repeat("0123456789", 5000),
		"skipme/cache.tmp":         "temporary\n",
		"logs/app.log":             "log line\n",
		"keep/secret-but-kept.txt": "x",
	})
	must(t, os.Mkdir(filepath.Join(dir, "emptydir"), 0o750))
	must(t, os.Symlink("notes/hello.txt", filepath.Join(dir, "link")))
	must(t, os.Link(filepath.Join(dir, "notes/hello.txt"), filepath.Join(dir, "notes/hard")))
	must(t, os.Chmod(filepath.Join(dir, "empty-file"), 0o600))
	must(t, os.Chown(filepath.Join(dir, "notes/hello.txt"), 1234, 5678))
}

// ts parses an engine timestamp (RFC 3339 with a variable number of fraction digits, so
// the strings do not sort).
func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("engine timestamp %q: %v", s, err)
	}
	return v
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func owner(t testing.TB, path string) (uid, gid uint32) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return s.Uid, s.Gid
}

// counts returns the regular files and their bytes under dir; hardlinked names count once
// (an archive stores the second name as a link entry).
func counts(t testing.TB, dir string) (files, bytes int64) {
	t.Helper()
	seen := map[uint64]bool{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			ino := info.Sys().(*syscall.Stat_t).Ino
			if seen[ino] {
				return nil
			}
			seen[ino] = true
			files++
			bytes += info.Size()
		}
		return nil
	}))
	return files, bytes
}

func fileSHA256(t testing.TB, path string) (string, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	must(t, err)
	return hex.EncodeToString(h.Sum(nil)), n
}

// untar extracts archive with GNU tar into a new dir and returns it.
func untar(t testing.TB, archive string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := append(append([]string{}, flags...), "-xf", archive, "-C", dir)
	if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
		t.Fatalf("tar %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return dir
}

func TestBackup(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newFullProject(t, "backup")
	before := p.containers()

	id := p.backup()

	// store and bot run again, idle stays stopped.
	after := p.containers()
	for _, svc := range []string{"store", "bot"} {
		if !after[svc].State.Running {
			t.Errorf("%s does not run after the backup: %+v", svc, after[svc].State)
		}
		if after[svc].State.StartedAt == before[svc].State.StartedAt {
			t.Errorf("%s was not stopped for the backup (StartedAt unchanged)", svc)
		}
	}
	if after["idle"].State.Running || after["idle"].State.StartedAt != before["idle"].State.StartedAt {
		t.Errorf("idle was stopped before the backup and must stay untouched: %+v", after["idle"].State)
	}
	// dependency order: bot (depends on store) stopped first and started last.
	if !ts(t, after["bot"].State.FinishedAt).Before(ts(t, after["store"].State.FinishedAt)) {
		t.Errorf("stop order: bot finished %s, store %s; bot must stop first", after["bot"].State.FinishedAt, after["store"].State.FinishedAt)
	}
	if !ts(t, after["store"].State.StartedAt).Before(ts(t, after["bot"].State.StartedAt)) {
		t.Errorf("start order: store started %s, bot %s; store must start first", after["store"].State.StartedAt, after["bot"].State.StartedAt)
	}

	dir := p.backupPath(id)
	m := p.manifest(id)
	if m.FormatVersion != 2 || m.ID != id || m.Project != p.Name || m.CreatedAt.IsZero() ||
		m.ToolVersion != TestVersion || m.EngineVersion == "" || m.Compression != "zstd" || !m.Stopped {
		t.Errorf("manifest header: %+v", *m)
	}
	if !slices.Equal(m.Running, []string{"store", "bot"}) {
		t.Errorf("running %q, want [store bot] in start order", m.Running)
	}
	if m.WorkingDir != p.Dir || !slices.Equal(m.ComposeFiles, []string{p.File}) || !slices.Equal(m.EnvFiles, []string{p.Path(".env")}) {
		t.Errorf("working dir %q, compose files %q, env files %q", m.WorkingDir, m.ComposeFiles, m.EnvFiles)
	}

	// sources, with kinds, names, keys, drivers, labels, mounts
	want := map[string]string{
		"storedata":           "volume",
		"anon:store:/cache":   "anonymous-volume",
		"anon:bot:/bot/data":  "anonymous-volume",
		"anon:idle:/bot/data": "anonymous-volume",
		"./config":            "bind-dir",
		"./settings.toml":     "bind-file",
		"file:compose.yaml":   "project-file",
		"file:.env":           "project-file",
	}
	if len(m.Sources) != len(want) {
		t.Errorf("%d sources, want %d: %+v", len(m.Sources), len(want), m.Sources)
	}
	for name, kind := range want {
		if s := m.source(t, name); s.Kind != kind {
			t.Errorf("source %s: kind %q, want %q", name, s.Kind, kind)
		}
	}
	sd := m.source(t, "storedata")
	if sd.VolumeKey != "storedata" || sd.VolumeName != p.Name+"_storedata" || sd.Driver != "local" ||
		sd.Labels["com.docker.compose.project"] != p.Name || sd.Labels["com.docker.compose.volume"] != "storedata" {
		t.Errorf("storedata: %+v", sd)
	}
	if len(sd.Mounts) != 1 || sd.Mounts[0] != (mountRef{Service: "store", Target: "/bot/data"}) {
		t.Errorf("storedata mounts %+v", sd.Mounts)
	}
	if c := m.source(t, "anon:store:/cache"); c.VolumeName != p.cacheName || c.Driver != "local" {
		t.Errorf("anon:store:/cache: %+v (want volume %s)", c, p.cacheName)
	}
	if f := m.source(t, "./settings.toml"); f.HostPath != p.Path("settings.toml") || len(f.Mounts) != 1 || !f.Mounts[0].ReadOnly {
		t.Errorf("./settings.toml: %+v", f)
	}
	if d := m.source(t, "./config"); d.HostPath != p.Path("config") {
		t.Errorf("./config: %+v", d)
	}

	// services: image reference, image ID, repo digests, config hash
	if len(m.Services) != 3 {
		t.Errorf("services %+v", m.Services)
	}
	for _, s := range m.Services {
		c := after[s.Name]
		if s.Image != p.Bot("1.0.0") || s.ImageID != c.Image || len(s.RepoDigests) == 0 ||
			s.ConfigHash == "" || s.ConfigHash != c.Config.Labels["com.docker.compose.config-hash"] {
			t.Errorf("service %+v (container image %s)", s, c.Image)
		}
	}

	// modes: dirs 0700, files 0600 (archives hold secrets)
	must(t, filepath.WalkDir(filepath.Join(p.BackupDir, p.Name), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if wantMode := fs.FileMode(0o600); d.IsDir() && info.Mode().Perm() != 0o700 || !d.IsDir() && info.Mode().Perm() != wantMode {
			t.Errorf("%s: mode %v", path, info.Mode())
		}
		if strings.HasSuffix(path, ".partial") {
			t.Errorf("left behind: %s", path)
		}
		return nil
	}))

	// every archive: sha256 and size as recorded; GNU tar reads it; counts match
	compose(t, p.project, "stop") // quiesce the data to compare it
	for _, s := range m.Sources {
		path := filepath.Join(dir, s.Archive)
		sum, n := fileSHA256(t, path)
		if sum != s.SHA256 || n != s.Size {
			t.Errorf("%s: sha256 %s size %d, manifest %s %d", s.Archive, sum, n, s.SHA256, s.Size)
		}
		if !strings.HasSuffix(s.Archive, ".tar.zst") {
			t.Errorf("%s: not a .tar.zst", s.Archive)
		}
		x := untar(t, path, "--zstd")
		if files, bytes := counts(t, x); files != s.Files || bytes != s.Bytes {
			t.Errorf("%s: tar extracted %d files / %d bytes, manifest says %d / %d", s.Archive, files, bytes, s.Files, s.Bytes)
		}
		var orig string
		switch s.Name {
		case "storedata":
			orig = p.vol
		case "anon:store:/cache":
			orig = p.cache
		case "./config":
			orig = p.Path("config")
		case "./settings.toml", "file:compose.yaml", "file:.env":
			base := filepath.Base(s.HostPath)
			if testrig.TreeHash(t, filepath.Join(x, base)) != testrig.TreeHash(t, s.HostPath) {
				t.Errorf("%s: extracted %s differs from %s", s.Archive, base, s.HostPath)
			}
			continue
		default:
			continue
		}
		if testrig.TreeHash(t, x, "starts.log") != testrig.TreeHash(t, orig, "starts.log") {
			t.Errorf("%s: tar --zstd -xf gives a tree different from %s", s.Archive, orig)
		}
		if uid, gid := owner(t, filepath.Join(x, "notes/hello.txt")); uid != 1234 || gid != 5678 {
			t.Errorf("%s: owner %d:%d not kept", s.Archive, uid, gid)
		}
	}
}

const optsCompose = `services:
  app:
    image: {{bot:1.0.0}}
    volumes:
      - appdata:/bot/data
      - ./config:/bot/config
volumes:
  appdata: {}
`

func TestBackupOptions(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "backup-opts", optsCompose)
	compose(t, p, "up", "-d", "--wait")
	seedData(t, p.Path("config"))
	vol := p.volumeDir(p.Name + "_appdata")

	for _, c := range []struct{ name, ext, flag string }{{"gzip", ".tar.gz", "-z"}, {"none", ".tar", ""}} {
		id := p.backup("--compression", c.name)
		m := p.manifest(id)
		if m.Compression != c.name {
			t.Errorf("--compression %s: manifest says %q", c.name, m.Compression)
		}
		for _, s := range m.Sources {
			if !strings.HasSuffix(s.Archive, c.ext) || strings.HasSuffix(s.Archive, ".tar"+c.ext) {
				t.Errorf("--compression %s: archive %s", c.name, s.Archive)
			}
			var flags []string
			if c.flag != "" {
				flags = append(flags, c.flag)
			}
			x := untar(t, filepath.Join(p.backupPath(id), s.Archive), flags...)
			if files, _ := counts(t, x); files != s.Files {
				t.Errorf("%s: %d files, manifest %d", s.Archive, files, s.Files)
			}
		}
		r := mustOK(t, p.maim("verify", id))
		if !strings.Contains(r.Stdout, "intact") {
			t.Errorf("verify %s: %s", id, r)
		}
	}

	// --exclude: .dockerignore patterns ("**/*.log" at any depth, "skipme" at the root), in every source
	id := p.backup("--exclude", "**/*.log", "--exclude", "skipme")
	m := p.manifest(id)
	x := untar(t, filepath.Join(p.backupPath(id), m.source(t, "./config").Archive), "--zstd")
	for _, gone := range []string{"logs/app.log", "skipme/cache.tmp"} {
		if _, err := os.Lstat(filepath.Join(x, gone)); err == nil {
			t.Errorf("--exclude: %s was archived", gone)
		}
	}
	for _, kept := range []string{"logs", "notes/hello.txt", "keep/secret-but-kept.txt"} {
		if _, err := os.Lstat(filepath.Join(x, kept)); err != nil {
			t.Errorf("--exclude: %s is missing: %v", kept, err)
		}
	}
	x = untar(t, filepath.Join(p.backupPath(id), m.source(t, "appdata").Archive), "--zstd")
	if _, err := os.Lstat(filepath.Join(x, "starts.log")); err == nil {
		t.Errorf("--exclude **/*.log: the volume's starts.log was archived")
	}
	if _, err := os.Lstat(filepath.Join(x, "data.json")); err != nil {
		t.Errorf("--exclude: data.json missing from the volume archive")
	}
	if _, err := os.Lstat(filepath.Join(vol, "starts.log")); err != nil {
		t.Errorf("the volume has no starts.log to exclude: %v", err)
	}

	// --no-stop: a warning, and the service is not restarted
	before := p.containers()["app"].State.StartedAt
	r := mustOK(t, p.maim("backup", "--no-stop"))
	if !strings.Contains(r.Stderr, "WARNING") || !strings.Contains(r.Stderr, "--no-stop") {
		t.Errorf("--no-stop gives no warning: %s", r)
	}
	if c := p.containers()["app"]; !c.State.Running || c.State.StartedAt != before {
		t.Errorf("--no-stop restarted or stopped app: %+v", c.State)
	}
	if m := p.manifest(backupID(t, r)); m.Stopped {
		t.Errorf("--no-stop backup says stopped=true")
	}
	// a bad --compression is a usage error
	if r := p.maim("backup", "--compression", "lz4"); r.Code != 125 {
		t.Errorf("--compression lz4: %s", r)
	}
}
