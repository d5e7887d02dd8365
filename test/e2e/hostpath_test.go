package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

// hostPathVolumes are the binds dockge, portainer and immich add to their services: the
// engine's socket and the host's clock, read-only. Neither is the project's data.
const hostPathVolumes = `volumes:
      - botdata:/bot/data
      - ./config:/bot/config
      - /var/run/docker.sock:/var/run/docker.sock
      - /etc/localtime:/etc/localtime:ro`

// hostFile is what a host path looked like: its own inode (not followed), mode, mtime, link
// target, and for a link the mtime and bytes of the file it leads to.
type hostFile struct {
	Ino, Mode       uint64
	Mtime           int64
	Link            string
	TargetMtime     int64
	TargetSHA, Kind string
}

func hostFileOf(t testing.TB, path string) hostFile {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	h := hostFile{Ino: st.Ino, Mode: uint64(st.Mode), Mtime: st.Mtim.Nano()}
	fi, _ := os.Lstat(path)
	h.Kind = fi.Mode().Type().String()
	if fi.Mode()&os.ModeSymlink != 0 {
		h.Link, _ = os.Readlink(path)
		if tfi, err := os.Stat(path); err == nil {
			h.TargetMtime = tfi.ModTime().UnixNano()
		}
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		b, err := os.ReadFile(path)
		must(t, err)
		h.TargetSHA = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	return h
}

func wantHostFile(t testing.TB, when, path string, before hostFile) {
	t.Helper()
	if after := hostFileOf(t, path); after != before {
		t.Errorf("%s: host path %s changed:\n before %+v\n after  %+v", when, path, before, after)
	}
}

// rawManifest reads a backup's manifest.json as plain JSON (host_paths is not in the
// harness's manifest type).
type rawHostPaths struct {
	Sources []struct {
		Name     string `json:"name"`
		HostPath string `json:"host_path"`
	} `json:"sources"`
	HostPaths []struct {
		Name       string `json:"name"`
		Kind       string `json:"kind"`
		HostPath   string `json:"host_path"`
		HostReason string `json:"host_reason"`
	} `json:"host_paths"`
}

func (p *project) hostPathsOf(id string) rawHostPaths {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.backupPath(id), "manifest.json"))
	must(p.t, err)
	var m rawHostPaths
	must(p.t, json.Unmarshal(b, &m))
	return m
}

// wantHostPathsSkipped checks that backup id archived neither host path and records both.
func (p *project) wantHostPathsSkipped(id string) {
	p.t.Helper()
	m := p.hostPathsOf(id)
	for _, s := range m.Sources {
		if s.HostPath == "/var/run/docker.sock" || s.HostPath == "/etc/localtime" {
			p.t.Errorf("backup %s archived the host path %s", id, s.HostPath)
		}
	}
	got := map[string]string{}
	for _, h := range m.HostPaths {
		if h.Kind != "host-path" {
			p.t.Errorf("backup %s: host path %s has kind %q", id, h.HostPath, h.Kind)
		}
		got[h.HostPath] = h.HostReason
	}
	want := map[string]string{"/var/run/docker.sock": "socket", "/etc/localtime": "system path /etc"}
	for path, reason := range want {
		if got[path] != reason {
			p.t.Errorf("backup %s: manifest host_paths %v, want %s with reason %q", id, got, path, reason)
		}
	}
}

// damageVolume overwrites user/memory.db in a volume and adds a stray file.
func (p *project) damageVolume(vol string) {
	p.t.Helper()
	p.putTar(vol, map[string]string{"user/memory.db": "gone\n", "user/stray": "x\n"})
}

// TestHostPathsAreNotData: a project that binds the engine's socket and /etc/localtime
// (dockge, portainer, immich) is backed up, verified, restored, upgraded and rolled back;
// the host paths are listed as not backed up, never archived nor written, and the data
// comes back byte for byte. Before host paths were told apart, the socket made every
// backup (and so every upgrade) fail.
func TestHostPathsAreNotData(t *testing.T) {
	t.Parallel()
	if fi, err := os.Lstat("/var/run/docker.sock"); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Skipf("no engine socket at /var/run/docker.sock: %v", err)
	}
	if _, err := os.Lstat("/etc/localtime"); err != nil {
		t.Skipf("no /etc/localtime: %v", err)
	}
	bp := makeBotProject(t, "hostpaths", "")
	compose := strings.Replace(bp.fileBytes("compose.yaml"), "volumes: [botdata:/bot/data, ./config:/bot/config]", hostPathVolumes, 1)
	if !strings.Contains(compose, "/etc/localtime:ro") {
		t.Fatalf("the compose file did not take the host path binds:\n%s", compose)
	}
	bp.WriteCompose(compose)
	bp.start()
	sock, clock := hostFileOf(t, "/var/run/docker.sock"), hostFileOf(t, "/etc/localtime")
	t.Logf("/etc/localtime: %+v", clock)

	// backup: succeeds, says what it left out, records it.
	r := mustOK(t, bp.maim("backup"))
	id := backupID(t, r)
	for _, want := range []string{
		"/var/run/docker.sock: not backed up: host path (socket)\n",
		"/etc/localtime: not backed up: host path (system path /etc)\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("backup output lacks %q: %s", want, r)
		}
	}
	bp.wantHostPathsSkipped(id)
	bp.wantUpChangesNothing()
	mustOK(t, bp.maim("verify", id))
	// What the backup holds (the bot logs a start after it, when it runs again).
	before := dataOf(t, bp.extractSource(id, "botdata"))
	configBefore := testrig.TreeHash(t, bp.extractSource(id, "./config"))

	// restore after damage: the data byte for byte, the host paths untouched.
	bp.damageVolume(bp.vol)
	bp.WriteFile("config/bot_config.toml", "broken = true\n")
	bp.WriteFile("config/stray.toml", "x = 1\n")
	rr := mustOK(t, bp.maim("restore", id))
	if strings.Contains(rr.Stdout+rr.Stderr, "restoring /etc/localtime") || strings.Contains(rr.Stdout+rr.Stderr, "restore /var/run/docker.sock") {
		t.Errorf("restore wrote a host path: %s", rr)
	}
	restored, _ := bp.data()
	wantRestored(t, "restore", before, restored, "1.0.0")
	if got := testrig.TreeHash(t, bp.Path("config")); got != configBefore {
		t.Errorf("restore did not put the config dir back byte for byte")
	}
	wantHostFile(t, "restore", "/etc/localtime", clock)
	wantHostFile(t, "restore", "/var/run/docker.sock", sock)
	bp.wantUpChangesNothing()

	// upgrade v1 -> v2: the plan lists the host paths as not backed up (text and JSON).
	bp.setEnv("BOT_VERSION", "2.0.0")
	dr := mustOK(t, bp.maim(append(upgradeArgs, "--dry-run")...))
	for _, want := range []string{"/var/run/docker.sock", "not backed up: host path (socket)", "/etc/localtime", "not backed up: host path (system path /etc)"} {
		if !strings.Contains(dr.Stdout, want) {
			t.Errorf("the plan does not say %q: %s", want, dr)
		}
	}
	jr := mustOK(t, bp.maim(append(upgradeArgs, "--dry-run", "--format", "json")...))
	var plan struct {
		Plan struct {
			Sources []struct {
				Name        string `json:"name"`
				Kind        string `json:"kind"`
				NotBackedUp string `json:"not_backed_up"`
			} `json:"sources"`
		} `json:"plan"`
	}
	must(t, json.Unmarshal([]byte(jr.Stdout), &plan))
	skipped := map[string]string{}
	for _, s := range plan.Plan.Sources {
		if s.NotBackedUp != "" || s.Kind == "host-path" {
			skipped[s.Name] = s.Kind + ": " + s.NotBackedUp
		}
	}
	if skipped["/var/run/docker.sock"] != "host-path: not backed up: host path (socket)" ||
		skipped["/etc/localtime"] != "host-path: not backed up: host path (system path /etc)" || len(skipped) != 2 {
		t.Errorf("plan JSON host paths = %v", skipped)
	}
	bp.wantBot("1.0.0")

	ur := bp.maim(upgradeArgs...)
	uid := upgraded(t, ur, bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	beforeUpgrade := dataOf(t, bp.extractSource(uid, "botdata"))
	if !strings.Contains(ur.Stdout, "/var/run/docker.sock: not backed up: host path (socket)") {
		t.Errorf("the upgrade output does not list the host paths: %s", ur)
	}
	bp.wantBot("2.0.0")
	bp.wantHostPathsSkipped(uid)
	wantHostFile(t, "upgrade", "/etc/localtime", clock)
	wantHostFile(t, "upgrade", "/var/run/docker.sock", sock)
	bp.wantUpChangesNothing()

	// rollback: v1, the data as before the upgrade, the host paths untouched.
	mustOK(t, bp.maim("rollback", "--stable-period", "3s", "--timeout", "2m"))
	if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
		t.Errorf("after the rollback the bot runs image %s, want %s", c.Image, bp.v1ID)
	}
	rolled, _ := bp.data()
	wantRestored(t, "rollback", beforeUpgrade, rolled, "1.0.0")
	wantHostFile(t, "rollback", "/etc/localtime", clock)
	wantHostFile(t, "rollback", "/var/run/docker.sock", sock)
	bp.wantNoJournal()
	// The compose file names what runs again: this needs rollback to return the .env the
	// user edited to its state before the upgrade (issue 8, point 1).
	bp.wantUpChangesNothing()
}

// TestIncludeHostPath: --include-host-path backs a read-only bind from outside the project
// up as an ordinary source; without it the bind is listed, not archived.
func TestIncludeHostPath(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	must(t, os.WriteFile(filepath.Join(shared, "models.txt"), []byte("shared models\n"), 0o644))
	bp := makeBotProject(t, "include-hostpath", "")
	compose := strings.Replace(bp.fileBytes("compose.yaml"), "volumes: [botdata:/bot/data, ./config:/bot/config]",
		"volumes: [botdata:/bot/data, ./config:/bot/config, '"+shared+":/shared:ro']", 1)
	bp.WriteCompose(compose)
	bp.start()

	r := mustOK(t, bp.maim("backup"))
	if want := shared + ": not backed up: host path (read-only, outside the project)"; !strings.Contains(r.Stdout, want) {
		t.Errorf("backup output lacks %q: %s", want, r)
	}
	if bp.manifest(backupID(t, r)).has(shared) {
		t.Errorf("a read-only bind from outside the project was archived without --include-host-path")
	}
	id := bp.backup("--include-host-path", shared)
	m := bp.manifest(id)
	if src := m.source(t, shared); src.Kind != "bind-dir" || src.Files != 1 {
		t.Errorf("included %s: %+v", shared, src)
	}
	if hp := bp.hostPathsOf(id).HostPaths; len(hp) != 0 {
		t.Errorf("an included host path is still listed as left out: %+v", hp)
	}
	wantFail(t, bp.maim("backup", "--include-host-path", "/etc/hostname"), 1, "--include-host-path /etc/hostname", "no service binds")
	bp.wantUpChangesNothing()
}

// TestBindSymlinkLeadingOutsideRefused: a bind source that is a symlink leading outside the
// project (data -> /etc, here a temp dir) is refused, naming the link and its target, by
// backup and upgrade before anything stops, and by a restore of a backup made while it was
// a plain directory; what it leads to is never written. --include-host-path opts it in.
func TestBindSymlinkLeadingOutsideRefused(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	outsideHash := testrig.TreeHash(t, outside)

	bp := makeBotProject(t, "symlink-out", "")
	compose := strings.Replace(bp.fileBytes("compose.yaml"), "volumes: [botdata:/bot/data, ./config:/bot/config]",
		"volumes: [botdata:/bot/data, ./config:/bot/config, ./extra:/bot/extra]", 1)
	bp.WriteCompose(compose)
	bp.WriteFile("extra/notes.txt", "mine\n")
	bp.start()
	plain := bp.backup() // ./extra is a directory of the project here
	// The backup restarted the bot: wait until it is healthy again, so the engine states
	// compared below differ only by what a command did.
	bp.wantUpChangesNothing("--wait")

	link := bp.Path("extra")
	must(t, os.RemoveAll(link))
	must(t, os.Symlink(outside, link))
	engine := bp.engineState()
	wantFail(t, bp.maim("backup"), 1, "./extra", link+" -> "+outside, "--include-host-path")
	wantSameEngine(t, engine, bp.engineState())

	bp.setEnv("BOT_VERSION", "2.0.0")
	wantFail(t, bp.maim(upgradeArgs...), 12, link+" -> "+outside)
	wantSameEngine(t, engine, bp.engineState())
	bp.setEnv("BOT_VERSION", "1.0.0")

	// A restore does not write the old directory through the link.
	wantFail(t, bp.maim("restore", plain), 1, link+" -> "+outside)
	if got := testrig.TreeHash(t, outside); got != outsideHash {
		t.Errorf("a restore wrote through the symlink into %s", outside)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the restore replaced the symlink %s: %v", link, err)
	}

	// Opted in, it is backed up through the link, and the manifest says so.
	id := bp.backup("--include-host-path", "./extra")
	if src := bp.manifest(id).source(t, "./extra"); src.Files != 1 || src.Kind != "bind-dir" {
		t.Errorf("included ./extra: %+v", src)
	}
	bp.wantUpChangesNothing()
}
