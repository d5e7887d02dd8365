package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreExcludeExceptions: .dockerignore exceptions end to end, on the host and the
// helper path. "!keep.log" after "**/*.log" and "!cache/keep" below an excluded "cache" are
// archived and restored exactly (written back, and what is re-included but not in the
// backup removed); everything else the patterns exclude survives the restore untouched.
// A bad pattern is refused (exit 125) before anything is archived.
func TestRestoreExcludeExceptions(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newRestoreProject(t, "restore-exexc")
	writeTree(t, p.Path("config"), map[string]string{"keep.log": "kept log v1\n", "app.log": "log at backup\n"})
	writeTree(t, p.vol, map[string]string{"cache/blob": "cache at backup\n", "cache/keep/k": "k v1\n"})
	if r := p.maim("backup", "--exclude", "../outside"); r.Code != 125 || !strings.Contains(r.Stderr, "../outside") {
		t.Errorf("backup --exclude ../outside: %s", r)
	}
	id := p.backup("--exclude", "**/*.log", "--exclude", "!keep.log", "--exclude", "/cache/", "--exclude", "!cache/keep")
	p.editManifest(id, func(m map[string]any) {
		if m["exclude_syntax"] != "dockerignore" {
			t.Errorf("the manifest records exclude_syntax %v", m["exclude_syntax"])
		}
	})

	for _, env := range [][]string{nil, {"MAIM_NO_HOST_PATH=1"}} {
		writeTree(t, p.Path("config"), map[string]string{"keep.log": "damaged\n", "app.log": "live log\n", "sub/deep.log": "live deep\n"})
		writeTree(t, p.vol, map[string]string{"cache/blob": "live cache\n", "cache/keep/k": "damaged\n", "cache/keep/stale": "not in the backup\n"})
		excluded := []string{p.Path("config/app.log"), p.Path("config/sub/deep.log"), filepath.Join(p.vol, "cache/blob")}
		before := map[string]string{}
		for _, f := range excluded {
			before[f] = fileSum(t, f)
		}
		mustOK(t, p.maimWith(env, append(append([]string(nil), restoreArgs...), id)...))
		for _, f := range excluded {
			if got := fileSum(t, f); got != before[f] {
				t.Errorf("%v: excluded %s changed by the restore: %s, was %s", env, f, got, before[f])
			}
		}
		for f, want := range map[string]string{p.Path("config/keep.log"): "kept log v1\n", filepath.Join(p.vol, "cache/keep/k"): "k v1\n"} {
			if b, _ := os.ReadFile(f); string(b) != want {
				t.Errorf("%v: re-included %s not restored: %q", env, f, b)
			}
		}
		if _, err := os.Lstat(filepath.Join(p.vol, "cache/keep/stale")); !os.IsNotExist(err) {
			t.Errorf("%v: re-included cache/keep/stale, not in the backup, survived: %v", env, err)
		}
		p.wantUpChangesNothing()
	}
}

// TestRestoreLegacyExcludes: a backup an older docker-maim made (its manifest has no
// exclude_syntax) meant "*.log" at any depth; restoring it keeps a live sub/deep.log
// (a .dockerignore reading would delete it: it is not in the archive).
func TestRestoreLegacyExcludes(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newRestoreProject(t, "restore-legacyex")
	id := p.backup("--exclude", "*.log")
	p.editManifest(id, func(m map[string]any) { delete(m, "exclude_syntax") })
	writeTree(t, p.Path("config"), map[string]string{"sub/deep.log": "live deep\n", "settings.txt": "damaged\n"})
	mustOK(t, p.restore(id))
	if b, _ := os.ReadFile(p.Path("config/sub/deep.log")); string(b) != "live deep\n" {
		t.Errorf("the legacy pattern *.log did not keep sub/deep.log: %q", b)
	}
	if b, _ := os.ReadFile(p.Path("config/settings.txt")); string(b) != "v1\n" {
		t.Errorf("settings.txt not restored: %q", b)
	}
}
