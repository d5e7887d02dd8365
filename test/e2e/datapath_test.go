package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/moby/moby/client"
)

// The data paths as a Docker Desktop user meets them: docker-maim run by a user of the
// docker group (so never the host fast path, which needs root), either built with cgo (a
// dynamically linked binary, as `go install` makes it: the embedded helper still serves),
// or forced to pick the embedded helper of the other architecture (MAIM_HELPER_ARCH), which
// the engine cannot run: it is refused before use and the engine's archive API carries the
// data. On both: backup, restore (of a volume a stopped container references), an upgrade
// that rolls itself back, an upgrade and `rollback`, every time byte-identical, and the data
// path reported by --progress plain and in the JSON results.

// dockerUser is a throwaway user in the docker group.
type dockerUser struct {
	name     string
	uid, gid uint32 // gid: the docker group
	home     string // HOME and DOCKER_CONFIG root, owned by the user
}

// newDockerUser creates a user in the docker group (removed when t ends); it skips when this
// process cannot (not root, no useradd, no docker group owning the socket).
func newDockerUser(t *testing.T) *dockerUser {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a docker-group user")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("needs useradd to create a docker-group user")
	}
	g, err := user.LookupGroup("docker")
	if err != nil {
		t.Skipf("no docker group: %v", err)
	}
	name := "maim-e2e-" + randSuffix()
	if out, err := exec.Command("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", "docker", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	du := &dockerUser{name: name, uid: uint32(uid), gid: uint32(gid), home: filepath.Join(t.TempDir(), "home")}
	du.own(t, du.home)
	return du
}

// own makes dir (created when missing) and everything below it the user's, and lets the user
// through every directory above it.
func (u *dockerUser) own(t *testing.T, dir string) {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o755))
	must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(u.uid), int(u.gid))
	}))
	for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		must(t, err)
		must(t, os.Chmod(d, st.Mode().Perm()|0o011))
	}
}

// install puts bin into a docker config of the user's as its docker-maim plugin (with the
// compose plugin beside it) and returns that DOCKER_CONFIG.
func (u *dockerUser) install(t *testing.T, bin, tag string) string {
	t.Helper()
	cfg := filepath.Join(u.home, "docker-"+tag)
	plugins := filepath.Join(cfg, "cli-plugins")
	must(t, os.MkdirAll(plugins, 0o755))
	b, err := os.ReadFile(bin)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(plugins, "docker-maim"), b, 0o755))
	if composePlugin != "" {
		must(t, os.Symlink(composePlugin, filepath.Join(plugins, "docker-compose")))
	}
	u.own(t, cfg)
	return cfg
}

// maim runs `docker maim args...` as the user in p's directory.
func (u *dockerUser) maim(t *testing.T, p *project, cfg string, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"maim"}, args...)...)
	cmd.Dir = p.Dir
	cmd.Env = maimEnvOf(t, backupDir(t), append([]string{"DOCKER_CONFIG=" + cfg, "HOME=" + u.home, "USER=" + u.name,
		"COMPOSE_PROJECT_NAME=" + p.Name}, env...))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{u.gid}}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result(t, append([]string{"maim"}, args...), stdout.String(), stderr.String(), err)
}

// cgoPlugin builds the plugin with cgo on (helpers embedded, as `make` builds them): a
// dynamically linked binary. It skips without a C compiler (.ci/run installs gcc).
func cgoPlugin(t *testing.T) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s): the cgo build is not tested (apt-get install gcc)", cc)
	}
	root, err := testrig.RepoRoot()
	must(t, err)
	out := filepath.Join(t.TempDir(), "docker-maim-cgo")
	build := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-X github.com/docker-maim/docker-maim/internal/plugin.Version="+TestVersion, "-o", out, "./cmd/docker-maim")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=1", "GOTOOLCHAIN=local")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=1 go build: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	must(t, err)
	defer f.Close()
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	if !dynamic {
		t.Fatalf("the cgo build %s is statically linked: this test would not test a cgo build", out)
	}
	return out
}

// engineArch is the engine's architecture and the other one docker-maim embeds a helper for.
func engineArch(t *testing.T) (string, string) {
	t.Helper()
	out, err := exec.Command("docker", "version", "--format", "{{.Server.Arch}}").Output()
	must(t, err)
	arch := strings.TrimSpace(string(out))
	if arch == "arm64" {
		return arch, "amd64"
	}
	return arch, "arm64"
}

// TestPluginEmbedsHelpers: the plugin under test (built as make builds it) embeds a helper
// for linux/amd64 and linux/arm64, as its hidden __helpers command lists them.
func TestPluginEmbedsHelpers(t *testing.T) {
	hs := embeddedHelpers(pluginBin)
	got := map[string]bool{}
	for _, h := range hs {
		if h.Size < 100_000 {
			t.Errorf("%s helper of %d bytes", h.Platform, h.Size)
		}
		got[h.Platform] = true
	}
	if !got["linux/amd64"] || !got["linux/arm64"] || len(hs) != 2 {
		t.Errorf("embedded helpers %+v, want linux/amd64 and linux/arm64", hs)
	}
}

func TestDataPathsAsDockerGroupUser(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	arch, other := engineArch(t)
	u := newDockerUser(t)
	for _, tc := range []struct {
		name string
		bin  func(t *testing.T) string
		env  []string
		path string // the data path every command must report (a prefix for the archive API)
	}{
		{"cgo", cgoPlugin, nil, "helper container (linux/" + arch + ")"},
		{"foreign-helper", func(*testing.T) string { return pluginBin }, []string{"MAIM_HELPER_ARCH=" + other},
			"archive API: the embedded helper for linux/" + other + " (MAIM_HELPER_ARCH=" + other + ") is built for "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := u.install(t, tc.bin(t), tc.name)
			bp := newBotProject(t, "dpath-"+tc.name, "BOT_FAIL=crash-late\nBOT_FAIL_ON=9.9.9\n")
			u.own(t, filepath.Dir(bp.Dir)) // project files and backups
			u.own(t, stateDir(t))
			archiveAPI := strings.HasPrefix(tc.path, "archive API")
			run := func(args ...string) Result { return u.maim(t, bp.project, cfg, tc.env, args...) }
			wantPath := func(what, got string) {
				t.Helper()
				// The helper names how it reached the archive (directly in the backup dir,
				// writing or reading): one session may report both.
				for _, part := range strings.Split(got, "; ") {
					if !strings.HasPrefix(part, tc.path) || (archiveAPI && part != got) {
						t.Errorf("%s: data path %q, want %q", what, got, tc.path)
					}
				}
			}
			wantJSONPath := func(what string, r Result) {
				t.Helper()
				var doc struct {
					DataPath string `json:"data_path"`
				}
				if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
					t.Fatalf("%s: %v: %s", what, err, r)
				}
				wantPath(what+" --format json", doc.DataPath)
			}

			// backup, with --progress plain saying the path once.
			before, _ := bp.data()
			configBefore := bp.fileBytes("config/bot_config.toml")
			r := mustOK(t, run("--progress", "plain", "backup"))
			id := backupID(t, r)
			if n := strings.Count(r.Stderr, "data path: "); n != 1 {
				t.Errorf("--progress plain says the data path %d times: %s", n, r)
			}
			wantPath("backup --progress plain", regexpFind(t, `data path: (.*)`, r.Stderr))

			// restore of the volume a stopped container references: changed, removed and
			// added files below the top (and at the top where a helper runs) are undone.
			bp.changeVolume(!archiveAPI)
			r = mustOK(t, run("restore", id, "--format", "json", "--stable-period", "3s", "--timeout", "2m"))
			wantJSONPath("restore", r)
			after, _ := bp.data()
			wantRestored(t, "restore", before, after, "1.0.0")
			before = after

			// an upgrade that fails after v2 migrated the data rolls itself back.
			bp.setEnv("BOT_FAIL_ON", "2.0.0")
			bp.setEnv("BOT_VERSION", "2.0.0")
			r = run(append(upgradeArgs, "--format", "json")...)
			if r.Code != 10 {
				t.Fatalf("want exit 10 (failed and rolled back): %s", r)
			}
			wantJSONPath("upgrade rolled back", r)
			if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
				t.Errorf("after the automatic rollback the bot runs image %s, want %s", c.Image, bp.v1ID)
			}
			after, dir := bp.data()
			wantRestored(t, "automatic rollback", before, after, "1.0.0")
			if d := readDataJSON(t, dir); d.Schema != 1 || len(d.Migrations) != 0 {
				t.Errorf("data.json after the automatic rollback: %+v", d)
			}
			before = after

			// an upgrade that succeeds, then rollback.
			bp.setEnv("BOT_FAIL_ON", "9.9.9")
			bp.setEnv("BOT_VERSION", "2.0.0")
			r = run(append(upgradeArgs, "--format", "json")...)
			if r.Code != 0 {
				t.Fatalf("upgrade: %s", r)
			}
			wantJSONPath("upgrade", r)
			bp.wantBot("2.0.0")
			r = mustOK(t, run("rollback", "--format", "json", "--stable-period", "3s", "--timeout", "2m"))
			wantJSONPath("rollback", r)
			if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
				t.Errorf("after the rollback the bot runs image %s, want %s", c.Image, bp.v1ID)
			}
			after, _ = bp.data()
			wantRestored(t, "rollback", before, after, "1.0.0")
			if got := bp.fileBytes("config/bot_config.toml"); got != configBefore {
				t.Errorf("rollback did not put the config file back byte for byte:\n%s", got)
			}
			bp.wantNoJournal()

			if archiveAPI {
				// A file to delete at the top of the volume: refused, the data untouched.
				bp.putTar(bp.vol, map[string]string{"top-extra": "x"})
				before, _ := bp.data()
				r := run("restore", id, "--stable-period", "3s", "--timeout", "2m")
				if r.Code == 0 || !strings.Contains(r.Stderr, "top-extra") || !strings.Contains(r.Stderr, "archive API cannot delete") {
					t.Errorf("restore with a file to delete at the top on the archive API: want a refusal naming it: %s", r)
				}
				if after, _ := bp.data(); after.Hash != before.Hash {
					t.Errorf("the refused restore changed the data")
				}
			}
		})
	}
}

// changeVolume changes the bot's data volume the way a user's use would: a file changed,
// files added below the top (one in a new directory), and, with top, one at the top.
func (bp *botProject) changeVolume(top bool) {
	bp.t.Helper()
	files := map[string]string{"user/memory.db": "rewritten\n", "user/added.txt": "new\n", "user/empty/new/deeper": "new\n"}
	if top {
		files["top-added.txt"] = "new\n"
	}
	bp.putTar(bp.vol, files)
}

// putTar writes files (path -> content, mode 0644) into volume vol through the engine.
func (p *project) putTar(vol string, files map[string]string) {
	p.t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		must(p.t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}))
		_, err := tw.Write([]byte(body))
		must(p.t, err)
	}
	must(p.t, tw.Close())
	p.peek(vol, func(id string) {
		if _, err := p.Client.CopyToContainer(context.Background(), id, client.CopyToContainerOptions{DestinationPath: "/v", Content: &buf}); err != nil {
			p.t.Fatalf("write into volume %s: %v", vol, err)
		}
	})
}
