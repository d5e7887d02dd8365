package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
}

var corpus = []corpusCase{
	{
		dir: "immich", hostPaths: []string{"/etc/localtime"},
		seed: "library", volumes: []string{"pgdata", "model-cache", "external_media"},
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
		seed: "data",
		setup: func(p *project) string {
			stacks := filepath.Join(p.Root, "opt", "stacks")
			writeTree(p.t, stacks, map[string]string{"blog/compose.yaml": "services:\n  web: {image: nginx}\n"})
			return "STACKS_DIR=" + stacks + "\n"
		},
		outside: func(p *project) []string { return []string{filepath.Join(p.Root, "opt", "stacks")} },
	},
	{dir: "mastodon", seed: "public/system", volumes: []string{"postgres"}},
	{dir: "maibot-0.12", seed: "data/MaiMBot"},
	{dir: "maibot-1.x", seed: "data/MaiMBot-plugin-data"},
}

// TestCorpus runs each project of testdata/corpus (compose files modelled on public
// projects, on stand-in bot images) through backup, verify and restore after damage: the
// data comes back byte-identical (starts.log, which the bot appends to on every start, left
// out), and after each command a plain `docker compose up -d` recreates nothing.
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
	if after := hostPathState(t, c.hostPaths); after != hostBefore {
		t.Errorf("host paths changed:\nbefore: %s\nafter:  %s", hostBefore, after)
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
