package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// The generic release of the --compose-file tests: 1.x runs service web with its data in
// ./data; 2.x renames it app, moves its data bind to ./appdata and adds a single-file bind
// ./config/extra.conf that does not exist yet. The user added TZ to web and a sidecar.
const (
	genericBase = `services:
  web:
    image: {{bot:1.0.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
      - ./config:/bot/config
`
	genericUser = `services:
  web:
    image: {{bot:1.0.0}}
    restart: unless-stopped
    environment:
      TZ: Europe/Berlin # mine
    volumes:
      - ./data:/bot/data
      - ./config:/bot/config
  # my own
  sidecar:
    image: {{bot:1.0.0}}
    restart: unless-stopped
    volumes:
      - sidecar-state:/bot/data
volumes:
  sidecar-state:
`
	genericNew = `# release 2: web is now app
services:
  app:
    image: {{bot:2.0.0}}
    restart: unless-stopped
    environment:
      BOT_FAIL: ${BOT_FAIL:-}
      BOT_FAIL_ON: ${BOT_FAIL_ON:-}
    volumes:
      - ./appdata:/bot/data
      - ./config:/bot/config
      - ./config/extra.conf:/bot/extra.conf
`
)

// genericProject is a running user's 1.x project of the generic release and the release's
// 2.x file written beside it (new.yaml) with its 1.x file (base.yaml).
func genericProject(t *testing.T, name, env string) *project {
	p := newProject(t, name, genericUser)
	p.WriteFile(".env", env)
	p.WriteFile("new.yaml", p.Expand(genericNew))
	p.WriteFile("base.yaml", p.Expand(genericBase))
	compose(t, p, "up", "-d", "--wait")
	return p
}

// TestUpgradeComposeFileGeneric: `upgrade --compose-file` adopts a release that renames a
// service and moves a bind, with --base (three-way) and without (two-way): the user's own
// service is kept, the renamed service's old container is removed and the new one runs the
// new image, the new single-file bind source is created as a file, the old data dir stays on
// the host and in the backup, the release's file is recorded in the backup, and a plain
// `docker compose up -d` changes nothing.
func TestUpgradeComposeFileGeneric(t *testing.T) {
	t.Parallel()
	t.Run("three-way", func(t *testing.T) {
		t.Parallel()
		p := genericProject(t, "adopt-generic-3way", "")
		dataBefore := dataOf(t, p.Path("data"))
		// The plan: refused without --accept-breaking (the layout changes).
		wantFail(t, p.maim("upgrade", "--compose-file", "new.yaml", "--base", "base.yaml"), 12, "removes service(s) web")
		dry := mustOK(t, p.maim("upgrade", "--dry-run", "--compose-file", "new.yaml", "--base", "base.yaml"))
		for _, want := range []string{"three-way on --base base.yaml", "services that appear: app", "services that disappear: web", "create config/extra.conf as a file", "./data: kept in the upgrade's backup", "adopt: write the merged compose file", "+  app:"} {
			if !strings.Contains(dry.Stdout, want) {
				t.Errorf("dry-run plan lacks %q:\n%s", want, dry.Stdout)
			}
		}

		r := mustOK(t, p.maim(append(append([]string{}, upgradeArgs...), "--compose-file", "new.yaml", "--base", "base.yaml")...))
		id := regexpFind(t, `upgraded project \S+; backup (\S+);`, r.Stdout)
		if !strings.Contains(r.Stdout, "(three-way merge)") || !strings.Contains(r.Stdout, "./data: kept in backup "+id) {
			t.Errorf("upgrade output:\n%s", r.Stdout)
		}
		if _, ok := p.containers()["web"]; ok {
			t.Error("the web container outlived the rename")
		}
		p.wantService("app", "2.0.0")
		p.wantService("sidecar", "1.0.0")
		file := p.fileBytes("compose.yaml")
		if !strings.Contains(file, "sidecar:") || !strings.Contains(file, "./appdata:/bot/data") || strings.Contains(file, "  web:") {
			t.Errorf("merged compose file:\n%s", file)
		}
		if st, err := os.Stat(p.Path("config/extra.conf")); err != nil || !st.Mode().IsRegular() {
			t.Errorf("config/extra.conf: %v %v (want a file)", st, err)
		}
		wantRestored(t, "the old data dir on the host", dataBefore, dataOf(t, p.Path("data")), "1.0.0")
		man := p.manifest(id)
		if !man.has("./data") || !man.has("file:compose.yaml") {
			t.Errorf("backup %s lacks ./data or the old compose file", id)
		}
		if b, err := os.ReadFile(filepath.Join(p.backupPath(id), "adopted-upstream-1.yaml")); err != nil || string(b) != p.fileBytes("new.yaml") {
			t.Errorf("the release's file in the backup: %v", err)
		}
		p.wantUpChangesNothing()
		p.wantNoJournal()

		// The next adoption finds its base in the backup: three-way with no --base.
		dry = mustOK(t, p.maim("upgrade", "--dry-run", "--compose-file", "new.yaml"))
		if !strings.Contains(dry.Stdout, "three-way on backup "+id) {
			t.Errorf("second adoption does not use the recorded base:\n%s", dry.Stdout)
		}
	})
	// Without a base a rename cannot be told from a service of the user's: web is kept
	// beside app, and the plan says so.
	t.Run("two-way", func(t *testing.T) {
		t.Parallel()
		p := genericProject(t, "adopt-generic-2way", "")
		r := mustOK(t, p.maim(append(append([]string{}, upgradeArgs...), "--compose-file", "new.yaml")...))
		if !strings.Contains(r.Stdout, "(two-way merge)") || !strings.Contains(r.Stdout, "only in your file are kept: web, sidecar") {
			t.Errorf("upgrade output:\n%s", r.Stdout)
		}
		p.wantService("app", "2.0.0")
		p.wantService("web", "1.0.0")
		p.wantService("sidecar", "1.0.0")
		if file := p.fileBytes("compose.yaml"); !strings.Contains(file, "TZ: Europe/Berlin") || !strings.Contains(file, "./appdata:/bot/data") {
			t.Errorf("merged compose file:\n%s", file)
		}
		p.wantUpChangesNothing()
		p.wantNoJournal()
	})
}

// TestUpgradeComposeFileGenericRollsBack: the renamed service of the new release crashes;
// the upgrade rolls back to the old compose file byte for byte, web runs 1.0.0 again on
// its data, the app container is gone, and a plain `docker compose up -d` changes nothing.
// Before the adoption was wired into the transaction --compose-file did not exist; without
// the rollback's orphan removal the crashed app container would stay.
func TestUpgradeComposeFileGenericRollsBack(t *testing.T) {
	t.Parallel()
	p := genericProject(t, "adopt-generic-fail", "BOT_FAIL=crash\nBOT_FAIL_ON=2.0.0\n")
	before := p.fileBytes("compose.yaml")
	dataBefore := dataOf(t, p.Path("data"))
	webBefore := p.wantService("web", "1.0.0")
	r := p.maim(append(append([]string{}, upgradeArgs...), "--compose-file", "new.yaml", "--base", "base.yaml")...)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (rolled back): %s", r)
	}
	if got := p.fileBytes("compose.yaml"); got != before {
		t.Errorf("compose.yaml after the rollback:\n%s\nwant:\n%s", got, before)
	}
	if c := p.wantService("web", "1.0.0"); c.Image != webBefore.Image {
		t.Errorf("web runs %s, want %s", c.Image, webBefore.Image)
	}
	p.wantService("sidecar", "1.0.0")
	if _, ok := p.containers()["app"]; ok {
		t.Error("the crashed app container outlived the rollback")
	}
	wantRestored(t, "rollback", dataBefore, dataOf(t, p.Path("data")), "1.0.0")
	p.wantUpChangesNothing()
	p.wantNoJournal()
}

// TestUpgradeComposeFileStdin: `--compose-file -` reads the release's file from stdin, as
// `curl -fsSL .../docker-compose.yml | docker maim upgrade --compose-file -` would: the same
// plan and the same result as from a file, and what came in on stdin is the release's file
// the backup keeps for the next three-way merge.
func TestUpgradeComposeFileStdin(t *testing.T) {
	t.Parallel()
	p := genericProject(t, "adopt-stdin", "")
	release := p.fileBytes("new.yaml")
	must(t, os.Remove(p.Path("new.yaml"))) // only stdin has it
	wantFail(t, p.maimIn(release, "upgrade", "--compose-file", "-", "--base", "base.yaml"), 12, "removes service(s) web")
	dry := mustOK(t, p.maimIn(release, "upgrade", "--dry-run", "--compose-file", "-", "--base", "base.yaml"))
	for _, want := range []string{"three-way on --base base.yaml", "services that appear: app", "services that disappear: web", "+  app:"} {
		if !strings.Contains(dry.Stdout, want) {
			t.Errorf("dry-run plan from stdin lacks %q:\n%s", want, dry.Stdout)
		}
	}
	r := mustOK(t, p.maimIn(release, append(append([]string{}, upgradeArgs...), "--compose-file", "-", "--base", "base.yaml")...))
	id := regexpFind(t, `upgraded project \S+; backup (\S+);`, r.Stdout)
	p.wantService("app", "2.0.0")
	p.wantService("sidecar", "1.0.0")
	if b, err := os.ReadFile(filepath.Join(p.backupPath(id), "adopted-upstream-1.yaml")); err != nil || string(b) != release {
		t.Errorf("the release's file in the backup is not what came in on stdin: %v", err)
	}
	p.wantUpChangesNothing()
	p.wantNoJournal()
	// An empty stdin (a download that failed into the pipe) is refused: merged, it would
	// remove every service.
	wantFail(t, p.maimIn("", "upgrade", "--accept-breaking", "--compose-file", "-"), 12, "(stdin) is empty")
	p.wantService("app", "2.0.0")
}

// TestUpgradeComposeFileKeepsProjectName: the user's file has no `name:` (the project is
// named after its directory, as `docker compose` in it derives it) and the release's file
// carries `name: something-else`. The adoption keeps the project where it is: the merged
// file has no `name:`, `docker compose ps` in the directory shows the upgraded services,
// and `docker maim rollback` (no -p either) finds the upgrade's backup and brings 1.0.0
// back. Carrying the release's name moved the project: compose then derived the new name,
// found no containers, and rollback no backup.
func TestUpgradeComposeFileKeepsProjectName(t *testing.T) {
	t.Parallel()
	p := newProject(t, "adopt-name", "")
	// The directory is named after the project: no -p, no COMPOSE_PROJECT_NAME needed.
	p.Dir = filepath.Join(p.Root, p.Name)
	p.File = filepath.Join(p.Dir, "compose.yaml")
	must(t, os.MkdirAll(p.Dir, 0o755))
	p.WriteCompose(`services:
  web:
    image: {{bot:1.0.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
`)
	moved := p.Name + "-moved"
	p.WriteFile("new.yaml", p.Expand(`name: `+moved+`
services:
  web:
    image: {{bot:2.0.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
`))
	compose(t, p, "up", "-d", "--wait")
	dataBefore := dataOf(t, p.Path("data"))
	before := p.fileBytes("compose.yaml")
	inDir := func(args ...string) Result { return docker(t, p.Dir, nil, args...) }

	dry := mustOK(t, inDir("maim", "upgrade", "--dry-run", "--compose-file", "new.yaml"))
	if !strings.Contains(dry.Stdout, "project-name-kept: name ("+moved+" -> -)") {
		t.Errorf("the plan does not say the release's name is not adopted:\n%s", dry.Stdout)
	}
	r := mustOK(t, inDir(append(append([]string{"maim"}, upgradeArgs...), "--compose-file", "new.yaml")...))
	if got := regexpFind(t, `upgraded project (\S+); backup`, r.Stdout); got != p.Name {
		t.Errorf("upgraded project %s, want %s", got, p.Name)
	}
	if file := p.fileBytes("compose.yaml"); strings.Contains(file, "name:") {
		t.Errorf("the merged file carries a project name:\n%s", file)
	}
	p.wantService("web", "2.0.0")
	ps := mustOK(t, inDir("compose", "ps", "--format", "{{.Service}} {{.Project}}"))
	if strings.TrimSpace(ps.Stdout) != "web "+p.Name {
		t.Errorf("docker compose ps in the project dir: %q, want %q", ps.Stdout, "web "+p.Name)
	}
	mustOK(t, inDir("maim", "rollback"))
	p.wantService("web", "1.0.0")
	if got := p.fileBytes("compose.yaml"); got != before {
		t.Errorf("compose.yaml after the rollback:\n%s\nwant:\n%s", got, before)
	}
	wantRestored(t, "rollback", dataBefore, dataOf(t, p.Path("data")), "1.0.0")
	p.wantNoJournal()
}

// TestUpgradeComposeFileKilledBetweenRenames: a two-file project (compose.yaml and its
// compose.override.yaml) adopts a release that renames web to app in both files; the
// upgrade is killed (SIGKILL) after the first merged file replaced compose.yaml and before
// the second replaced the override. That set does not load (the old override's web has no
// image). `docker maim rollback` resolves it: both files byte for byte as before, web on
// 1.0.0 running and healthy on its data, no app container, no journal, no temporary file.
// Before the renames were journaled, rollback could not load the project to resolve it.
func TestUpgradeComposeFileKilledBetweenRenames(t *testing.T) {
	t.Parallel()
	oldMain := `services:
  web:
    image: {{bot:1.0.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
`
	oldOverride := `services:
  web:
    environment:
      TZ: Europe/Berlin
`
	newMain := `services:
  app:
    image: {{bot:2.0.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
`
	newOverride := `services:
  app:
    environment:
      TZ: Europe/Berlin
`
	p := newProject(t, "adopt-kill-renames", oldMain)
	p.WriteFile("compose.override.yaml", oldOverride)
	for name, text := range map[string]string{"base.yaml": oldMain, "base.override.yaml": oldOverride, "new.yaml": newMain, "new.override.yaml": newOverride} {
		p.WriteFile(name, p.Expand(text))
	}
	// Both files, as `docker compose` in the directory loads them (testrig's compose names -f).
	inDir := func(args ...string) Result {
		return docker(t, p.Dir, []string{"COMPOSE_PROJECT_NAME=" + p.Name}, append([]string{"compose"}, args...)...)
	}
	mustOK(t, inDir("up", "-d", "--wait"))
	mainBefore, overrideBefore := p.fileBytes("compose.yaml"), p.fileBytes("compose.override.yaml")
	dataBefore := dataOf(t, p.Path("data"))
	webBefore := p.wantService("web", "1.0.0")

	args := append(append([]string{}, upgradeArgs...), "--compose-file", "new.yaml", "--compose-file", "new.override.yaml", "--base", "base.yaml", "--base", "base.override.yaml")
	wantKilled(t, p.maimWith([]string{"MAIM_FAILPOINT=upgrade:adopting:renamed-1"}, args...))
	if got := p.fileBytes("compose.yaml"); got == mainBefore {
		t.Fatalf("the kill came before the first rename: compose.yaml is the old one")
	}
	if got := p.fileBytes("compose.override.yaml"); got != overrideBefore {
		t.Fatalf("the kill came after the second rename:\n%s", got)
	}

	r := mustOK(t, p.maim(rollbackArgs...))
	if !strings.Contains(r.Stdout, "resolved the interrupted upgrade in phase adopting") {
		t.Errorf("rollback does not say what it resolved: %s", r)
	}
	if got := p.fileBytes("compose.yaml"); got != mainBefore {
		t.Errorf("compose.yaml after the rollback:\n%s\nwant:\n%s", got, mainBefore)
	}
	if got := p.fileBytes("compose.override.yaml"); got != overrideBefore {
		t.Errorf("compose.override.yaml after the rollback:\n%s\nwant:\n%s", got, overrideBefore)
	}
	if c := p.wantService("web", "1.0.0"); c.Image != webBefore.Image {
		t.Errorf("web runs %s, want %s", c.Image, webBefore.Image)
	}
	if _, ok := p.containers()["app"]; ok {
		t.Error("an app container outlived the rollback")
	}
	wantRestored(t, "rollback", dataBefore, dataOf(t, p.Path("data")), "1.0.0")
	for _, f := range []string{"compose.yaml.maim-new", "compose.override.yaml.maim-new"} {
		if _, err := os.Stat(p.Path(f)); err == nil {
			t.Errorf("%s is left in the project dir", f)
		}
	}
	ids := p.containerIDs()
	mustOK(t, inDir("up", "-d"))
	if after := p.containerIDs(); strings.Join(after, ",") != strings.Join(ids, ",") {
		t.Errorf("docker compose up -d changed the project: before %v, after %v", ids, after)
	}
	p.wantNoJournal()
}

// TestUpgradeComposeFileVolumeOptions: the release's file gives the named volume state new
// driver_opts. Compose would ask to recreate the volume (its data lost); the adoption is
// refused as breaking, naming the volume, and with --accept-breaking the upgrade runs with
// the volume kept: the same volume (created at the same moment), its old options.
func TestUpgradeComposeFileVolumeOptions(t *testing.T) {
	t.Parallel()
	user := `services:
  web:
    image: {{bot:1.0.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
      - state:/bot/state
volumes:
  state:
`
	p := newProject(t, "adopt-volopts", user)
	p.WriteFile("base.yaml", p.Expand(user)) // three-way: the release's change of the volume is applied
	p.WriteFile("new.yaml", p.Expand(`services:
  web:
    image: {{bot:1.1.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
      - state:/bot/state
volumes:
  state:
    driver_opts:
      type: tmpfs
      device: tmpfs
`))
	compose(t, p, "up", "-d", "--wait")
	name := p.Name + "_state"
	inspect := func() (string, map[string]string) {
		v, err := p.Client.VolumeInspect(context.Background(), name, client.VolumeInspectOptions{})
		must(t, err)
		return v.Volume.CreatedAt, v.Volume.Options
	}
	created, _ := inspect()

	wantFail(t, p.maim("upgrade", "--compose-file", "new.yaml", "--base", "base.yaml"), 12, "volume state", name, "driver_opts")
	r := mustOK(t, p.maim(append(append([]string{}, upgradeArgs...), "--compose-file", "new.yaml", "--base", "base.yaml")...))
	if !strings.Contains(r.Stdout+r.Stderr, "volume "+name+" keeps its driver and options") {
		t.Errorf("the upgrade does not say the volume is kept:\n%s", r)
	}
	p.wantService("web", "1.1.0")
	if at, opts := inspect(); at != created || len(opts) != 0 {
		t.Errorf("volume %s after the upgrade: created %s (was %s), options %v: recreated", name, at, created, opts)
	}
}

// TestUpgradeComposeFilePreStartFails: the release's web has a pre_start hook that exits
// non-zero. Compose keeps web from starting and keeps the hook's container; the upgrade
// is a failed one: rolled back (exit 10), web runs 1.0.0 again on its data, the compose
// file is as before, and no hook container (label com.docker.compose.hook) remains. The
// plan lists the hook.
func TestUpgradeComposeFilePreStartFails(t *testing.T) {
	t.Parallel()
	p := newProject(t, "adopt-prestart", `services:
  web:
    image: {{bot:1.0.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
`)
	p.WriteFile("new.yaml", p.Expand(`services:
  web:
    image: {{bot:1.1.0}}
    restart: unless-stopped
    volumes:
      - ./data:/bot/data
    pre_start:
      - command: ["no-such-subcommand"]
`))
	compose(t, p, "up", "-d", "--wait")
	before := p.fileBytes("compose.yaml")
	dataBefore := dataOf(t, p.Path("data"))
	webBefore := p.wantService("web", "1.0.0")

	dry := mustOK(t, p.maim("upgrade", "--dry-run", "--compose-file", "new.yaml"))
	if !strings.Contains(dry.Stdout, "pre_start hook") || !strings.Contains(dry.Stdout, "no-such-subcommand") {
		t.Errorf("the plan does not list the pre_start hook:\n%s", dry.Stdout)
	}
	r := p.maim(append(append([]string{}, upgradeArgs...), "--compose-file", "new.yaml")...)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (rolled back): %s", r)
	}
	if !strings.Contains(r.Stderr+r.Stdout, "pre_start") {
		t.Errorf("the failure does not name the hook: %s", r)
	}
	if got := p.fileBytes("compose.yaml"); got != before {
		t.Errorf("compose.yaml after the rollback:\n%s\nwant:\n%s", got, before)
	}
	if c := p.wantService("web", "1.0.0"); c.Image != webBefore.Image {
		t.Errorf("web runs %s, want %s", c.Image, webBefore.Image)
	}
	wantRestored(t, "rollback", dataBefore, dataOf(t, p.Path("data")), "1.0.0")
	hooks, err := p.Client.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", "com.docker.compose.project="+p.Name).Add("label", "com.docker.compose.hook")})
	must(t, err)
	for _, c := range hooks.Items {
		t.Errorf("hook container %v (%s) outlived the rollback", c.Names, c.State)
	}
	p.wantUpChangesNothing()
	p.wantNoJournal()
}
