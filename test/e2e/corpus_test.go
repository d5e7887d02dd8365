package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/moby/moby/client"
)

// corpusCase is one project of testdata/corpus (see its README.md).
type corpusCase struct {
	dir string
	// hostPaths are host system paths the project binds (/var/run/docker.sock,
	// /etc/localtime): every command lists them as not backed up and leaves them exactly
	// as they were (a symlink stays a symlink to the same target, same mode and mtime).
	hostPaths []string
	// seed is a bind dir (relative to the project dir) that gets user files, and is
	// damaged before the restore.
	seed string
	// volumes are volumes whose data is seeded and compared, by engine name less the
	// "<project>_" prefix (a compose volume key, or the tail of an external one's name).
	volumes []string
	// setup prepares what lives outside the project (an external volume, a dir elsewhere)
	// before `up` and returns lines for .env.
	setup func(p *project) string
	// outside are dirs outside the project dir whose contents are compared too.
	outside func(p *project) []string

	// edit is the user's upgrade by edited tag: the file and the text in it that becomes
	// its 2.0.0 form (a variable in .env, or an image line); moved are the services it moves
	// to 2.0.0 (the others stay on 1.0.0).
	edit  textEdit
	moved []string
	// oneShots are services that run once and exit (a migration); profiled ones are under
	// a profile nobody enabled: they never get a container.
	oneShots, profiled []string
	// image is the service whose own image reference `upgrade --image` moves to 2.0.0 (""
	// when every reference is shared), and imageEdit the one line that must change for it.
	image     string
	imageEdit textEdit
	// shared is a service whose tag variable other services use too: `upgrade --image` of
	// it alone cannot be written into the files and is refused.
	shared string
}

// textEdit is a replacement of Old by New (each exactly once) in the project file File.
type textEdit struct{ File, Old, New string }

var corpus = []corpusCase{
	{
		dir: "immich", hostPaths: []string{"/etc/localtime"},
		seed: "library", volumes: []string{"pgdata", "model-cache", "external_media"},
		edit:  textEdit{".env", "IMMICH_VERSION=1.0.0", "IMMICH_VERSION=2.0.0"},
		moved: []string{"immich-server", "immich-machine-learning", "redis"},
		image: "database", imageEdit: textEdit{".env", "DB_VERSION=1.0.0", "DB_VERSION=2.0.0"},
		shared: "immich-server",
		setup: func(p *project) string {
			// made by the user, not compose: its name carries the project's, for cleanup
			vol := p.Name + "_external_media"
			if _, err := p.Client.VolumeCreate(context.Background(), client.VolumeCreateOptions{Name: vol}); err != nil {
				p.t.Fatalf("external volume: %v", err)
			}
			return "MEDIA_VOLUME=" + vol + "\n"
		},
	},
	{
		dir: "dockge", hostPaths: []string{"/var/run/docker.sock"},
		seed:  "data",
		edit:  textEdit{".env", "DOCKGE_VERSION=1.0.0", "DOCKGE_VERSION=2.0.0"},
		moved: []string{"dockge"},
		image: "dockge", imageEdit: textEdit{".env", "DOCKGE_VERSION=1.0.0", "DOCKGE_VERSION=2.0.0"},
		setup: func(p *project) string {
			stacks := filepath.Join(p.Root, "opt", "stacks")
			writeTree(p.t, stacks, map[string]string{"blog/compose.yaml": "services:\n  web: {image: nginx}\n"})
			return "STACKS_DIR=" + stacks + "\n"
		},
		outside: func(p *project) []string { return []string{filepath.Join(p.Root, "opt", "stacks")} },
	},
	{
		dir: "mastodon", seed: "public/system", volumes: []string{"postgres"},
		edit:     textEdit{".env", "MASTODON_VERSION=1.0.0", "MASTODON_VERSION=2.0.0"},
		moved:    []string{"db", "redis", "db-migrate", "web", "sidekiq"},
		oneShots: []string{"db-migrate"}, profiled: []string{"es"},
		// no --image step: every service's tag is ${MASTODON_VERSION}
	},
	{
		dir: "maibot-0.12", seed: "data/MaiMBot",
		edit:  textEdit{".env", "MAIBOT_VERSION=1.0.0", "MAIBOT_VERSION=2.0.0"},
		moved: []string{"core"},
		image: "adapters", imageEdit: textEdit{".env", "ADAPTER_VERSION=1.0.0", "ADAPTER_VERSION=2.0.0"},
	},
	{
		dir: "maibot-1.x", seed: "data/MaiMBot-plugin-data",
		edit:  textEdit{"compose.yaml", "image: ${BOT_REPO}:1.0.0 # 升级时改这里的版本号", "image: ${BOT_REPO}:2.0.0 # 升级时改这里的版本号"},
		moved: []string{"core"},
		image: "napcat", imageEdit: textEdit{"compose.yaml", "  napcat:\n    image: ${BOT_REPO}:1.0.0\n", "  napcat:\n    image: ${BOT_REPO}:2.0.0\n"},
	},
}

// TestCorpus runs each project of testdata/corpus (compose files modelled on public
// projects, on stand-in bot images) through backup, verify and restore after damage, then
// an upgrade by edited tag and its rollback, and an upgrade by --image and its rollback:
// the data comes back byte-identical (starts.log, which the bot appends to on every start,
// left out), the files are the user's again after each rollback, host paths are untouched,
// and after each command a plain `docker compose up -d` recreates nothing. The cases run
// one after the other (only the test is parallel): the machine is shared.
func TestCorpus(t *testing.T) {
	t.Parallel()
	for _, c := range corpus {
		t.Run(c.dir, func(t *testing.T) {
			runCorpusCase(t, c)
		})
	}
}

func runCorpusCase(t *testing.T, c corpusCase) {
	p := newProject(t, "corpus-"+c.dir, "")
	repo := strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0")
	copyCorpus(t, filepath.Join("testdata", "corpus", c.dir), p.Dir)
	env := "BOT_REPO=" + repo + "\n"
	if c.setup != nil {
		env += c.setup(p)
	}
	b, err := os.ReadFile(p.Path(".env"))
	must(t, err)
	p.WriteFile(".env", string(b)+env)
	seedDir := p.Path(c.seed)
	must(t, os.MkdirAll(seedDir, 0o755))
	seedData(t, seedDir)
	compose(t, p, "up", "-d", "--wait")
	for _, v := range c.volumes {
		p.seedVolume(p.Name + "_" + v)
	}

	hostBefore := hostPathState(t, c.hostPaths)
	r := mustOK(t, p.maim("backup"))
	id := backupID(t, r)
	for _, h := range c.hostPaths {
		if !strings.Contains(r.Stdout+r.Stderr, h) || !strings.Contains(r.Stdout+r.Stderr, "not backed up: host path") {
			t.Errorf("the backup output does not list %s as not backed up: host path:\n%s", h, r)
		}
		if p.manifest(id).has(h) {
			t.Errorf("host path %s was archived", h)
		}
	}
	p.wantUpChangesNothing("--wait")
	before := p.corpusState(c)
	mustOK(t, p.maim("verify", id))
	p.wantUpChangesNothing()

	damage(t, seedDir)
	if p.corpusState(c)["project"] == before["project"] {
		t.Fatal("test setup: the damage changed nothing")
	}
	mustOK(t, p.maim("restore", id))
	p.wantUpChangesNothing("--wait")
	sameState(t, "after the restore", p.corpusState(c), before)
	wantHostPaths(t, "after the restore", c.hostPaths, hostBefore)

	p.Bot("2.0.0") // in the registry only: the upgrades pull it
	p.corpusUpgradeByEdit(c, repo, hostBefore)
	if c.shared != "" {
		p.corpusImageRefused(c, repo)
	}
	if c.image != "" {
		p.corpusUpgradeByImage(c, repo, hostBefore)
	}
}

func wantHostPaths(t testing.TB, what string, paths []string, before string) {
	t.Helper()
	if after := hostPathState(t, paths); after != before {
		t.Errorf("%s: host paths changed:\nbefore: %s\nafter:  %s", what, before, after)
	}
}

// corpusUpgradeByEdit: the user edits the tag as the project's docs say and runs
// `docker maim upgrade`; the moved services run 2.0.0 (and migrate their data), the others
// 1.0.0; `rollback` then brings back the data and the files as they were before the edit.
func (p *project) corpusUpgradeByEdit(c corpusCase, repo, hostBefore string) {
	t := p.t
	t.Helper()
	before, files := p.corpusState(c), p.projectFiles(c)
	p.applyEdit(c.edit)
	edited := p.projectFiles(c)
	ids := p.containerIDs()

	r := mustOK(t, p.maim(upgradeArgs...))
	upgraded(t, r, p.Name, "", "")
	p.wantVersions(c, c.moved...)
	if slices.Equal(ids, p.containerIDs()) {
		t.Errorf("the upgrade recreated nothing: %v", ids)
	}
	p.wantFiles("after the upgrade", edited)
	p.wantUpChangesNothing()
	wantHostPaths(t, "after the upgrade", c.hostPaths, hostBefore)

	mustOK(t, p.maim(rollbackArgs...))
	p.wantVersions(c)
	p.wantFiles("after the rollback", files)
	sameState(t, "after the rollback", p.corpusState(c), before)
	p.wantUpChangesNothing()
	p.wantVersions(c)
	wantHostPaths(t, "after the rollback", c.hostPaths, hostBefore)
}

// corpusImageRefused: `upgrade --image` of a service whose tag variable other services
// share cannot be written into the files without moving them too: it is refused (exit 12)
// and nothing changes.
func (p *project) corpusImageRefused(c corpusCase, repo string) {
	t := p.t
	t.Helper()
	files, ids := p.projectFiles(c), p.containerIDs()
	r := p.maim(append(append([]string{}, upgradeArgs...), "--image", c.shared+"="+repo+":2.0.0")...)
	if r.Code != 12 {
		t.Errorf("upgrade --image %s (a tag variable other services share): want exit 12 (refused), got %s", c.shared, r)
		if r.Code == 0 {
			mustOK(t, p.maim(rollbackArgs...)) // back to where the next step starts
			return
		}
	}
	p.wantFiles("after the refused --image", files)
	if got := p.containerIDs(); !slices.Equal(got, ids) {
		t.Errorf("the refused upgrade --image changed the containers:\nbefore: %v\nafter:  %v", ids, got)
	}
	p.wantVersions(c)
}

// corpusUpgradeByImage: `upgrade --image SVC=REPO:2.0.0` for a service with its own tag
// writes exactly that tag's line; `rollback` puts the files and the data back.
func (p *project) corpusUpgradeByImage(c corpusCase, repo, hostBefore string) {
	t := p.t
	t.Helper()
	before, files := p.corpusState(c), p.projectFiles(c)
	p.applyEdit(c.imageEdit)
	want := p.projectFiles(c)
	p.WriteFile(c.imageEdit.File, files[c.imageEdit.File])

	r := mustOK(t, p.maim(append(append([]string{}, upgradeArgs...), "--image", c.image+"="+repo+":2.0.0")...))
	upgraded(t, r, p.Name, "", "")
	p.wantVersions(c, c.image)
	p.wantFiles("after upgrade --image", want)
	p.wantUpChangesNothing()
	p.wantVersions(c, c.image)
	wantHostPaths(t, "after upgrade --image", c.hostPaths, hostBefore)

	mustOK(t, p.maim(rollbackArgs...))
	p.wantVersions(c)
	p.wantFiles("after the rollback of --image", files)
	sameState(t, "after the rollback of --image", p.corpusState(c), before)
	p.wantUpChangesNothing()
	wantHostPaths(t, "after the rollback of --image", c.hostPaths, hostBefore)
}

// applyEdit makes the user's edit e (Old must occur exactly once).
func (p *project) applyEdit(e textEdit) {
	p.t.Helper()
	s := p.fileBytes(e.File)
	if n := strings.Count(s, e.Old); n != 1 {
		p.t.Fatalf("test setup: %q occurs %d times in %s", e.Old, n, e.File)
	}
	p.WriteFile(e.File, strings.Replace(s, e.Old, e.New, 1))
}

// projectFiles are the compose file and the env files of a case, by name.
func (p *project) projectFiles(c corpusCase) map[string]string {
	p.t.Helper()
	out := map[string]string{}
	for _, f := range []string{"compose.yaml", ".env", ".env.production"} {
		if b, err := os.ReadFile(p.Path(f)); err == nil {
			out[f] = string(b)
		} else if !errors.Is(err, fs.ErrNotExist) {
			p.t.Fatal(err)
		}
	}
	return out
}

func (p *project) wantFiles(what string, want map[string]string) {
	p.t.Helper()
	for f, b := range want {
		p.wantFile(what, f, b)
	}
}

// wantVersions checks, by the engine's image labels, that the services in v2 run 2.0.0 and
// every other one 1.0.0: long-running ones running and healthy, one-shots exited 0; and
// that services under an inactive profile have no container.
func (p *project) wantVersions(c corpusCase, v2 ...string) {
	p.t.Helper()
	cs := p.containers()
	for svc, ct := range cs {
		v := "1.0.0"
		if slices.Contains(v2, svc) {
			v = "2.0.0"
		}
		if slices.Contains(c.profiled, svc) {
			p.t.Errorf("service %s (under an inactive profile) has a container: %s", svc, ct.State.Status)
			continue
		}
		if !slices.Contains(c.oneShots, svc) {
			p.wantService(svc, v)
			continue
		}
		if got := ct.Config.Labels["org.opencontainers.image.version"]; got != v {
			p.t.Errorf("one-shot %s ran version %q, want %q", svc, got, v)
		}
		if ct.State == nil || ct.State.Status != "exited" || ct.State.ExitCode != 0 {
			p.t.Errorf("one-shot %s did not run to exit 0: %+v", svc, ct.State)
		}
	}
	for _, svc := range c.oneShots {
		if _, ok := cs[svc]; !ok {
			p.t.Errorf("one-shot %s has no container", svc)
		}
	}
}

// hostPathState describes host paths as Lstat and Readlink see them: kind, mode, mtime,
// size, inode and link target.
func hostPathState(t testing.TB, paths []string) string {
	t.Helper()
	var b strings.Builder
	for _, h := range paths {
		st, err := os.Lstat(h)
		if err != nil {
			t.Fatalf("host path %s: %v", h, err)
		}
		link, _ := os.Readlink(h)
		fmt.Fprintf(&b, "%s %v %s %d %d ->%q; ", h, st.Mode(), st.ModTime().Format(time.RFC3339Nano), st.Size(), st.Sys().(*syscall.Stat_t).Ino, link)
	}
	return b.String()
}

// corpusState hashes the project dir, the outside dirs and the volumes of a case.
func (p *project) corpusState(c corpusCase) map[string]string {
	p.t.Helper()
	st := map[string]string{"project": testrig.TreeHash(p.t, p.Dir, "starts.log")}
	if c.outside != nil {
		for _, d := range c.outside(p) {
			st[d] = testrig.TreeHash(p.t, d, "starts.log")
		}
	}
	for _, v := range c.volumes {
		st["volume "+v] = testrig.TreeHash(p.t, p.readVolume(p.Name+"_"+v), "starts.log")
	}
	return st
}

// copyCorpus copies a corpus project (files and dirs, dotfiles too) into dst.
func copyCorpus(t testing.TB, src, dst string) {
	t.Helper()
	must(t, filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	}))
}
