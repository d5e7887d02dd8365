package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/volume"
)

// Issue 23: the differential restore in two passes. Pass one, while the services run,
// stages the backup's version of each file to rewrite in a stage dir at the target's root;
// after the stop the untouched staged files are renamed into place.

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	must(t, err)
	return n
}

// stageDirsIn lists the stage dirs (diffrestore.IsStageName) at dir's root.
func stageDirsIn(t testing.TB, dir string) []string {
	t.Helper()
	names, err := os.ReadDir(dir)
	must(t, err)
	var out []string
	for _, n := range names {
		if diffrestore.IsStageName(n.Name()) {
			out = append(out, n.Name())
		}
	}
	return out
}

// prestageProject is a restore project whose data is older than a backup's ctime margin,
// with a user's own ".maim-stage-foo" dir (data like any other), backed up, then changed in
// two files as an upgrade would.
func prestageProject(t *testing.T, name string) (*restoreProject, string, treediff.Tree) {
	p := newRestoreProject(t, name)
	writeTree(t, p.vol, map[string]string{".maim-stage-foo/mine": "user data\n", "bulk/a": strings.Repeat("a", 100000), "bulk/b": "b\n"})
	time.Sleep(3100 * time.Millisecond) // the files older than the backup's ctime margin
	id := p.backup()
	want := treediff.Of(t, p.vol)
	writeTree(t, p.vol, map[string]string{"db/data.bin": "rows v2\n", ".maim-stage-foo/mine": "changed by the upgrade\n"})
	return p, id, want
}

// TestPrestageWayBack: a restore and a rollback with the services running stage the two
// files they rewrite before the stop (held there: failpoint OP:prestaged), the app then
// rewrites one of them; after the stop the untouched one is renamed from the stage, the
// rewritten one extracted, the data equals the backup exactly, no stage dir is left, the
// user's own .maim-stage-foo is restored as data, and the safety backup does not hold the
// stage (put back, it leaves no stage dir).
func TestPrestageWayBack(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, op := range []string{"restore", "rollback"} {
		t.Run(op, func(t *testing.T) {
			p, id, want := prestageProject(t, "prestage-"+op)
			args := append(append([]string(nil), restoreArgs...), id)
			if op == "rollback" {
				args = []string{"rollback", id, "--stable-period", "1s", "--timeout", "2m"}
			}
			fp := filepath.Join(t.TempDir(), "failpoint")
			run := p.maimStart([]string{"MAIM_FAILPOINT=" + op + ":prestaged:wait", "MAIM_FAILPOINT_FILE=" + fp, volume.EnvNoHostPath + "=1"}, args...)
			waitFailpoint(t, run, fp, 3*time.Minute)
			if c := p.containers()["app"]; !c.State.Running {
				t.Fatalf("app was stopped before the stage was taken: %+v", c.State)
			}
			stages := stageDirsIn(t, p.vol)
			if len(stages) != 1 {
				t.Fatalf("stage dirs while held: %v, want one", stages)
			}
			if b, _ := os.ReadFile(filepath.Join(p.vol, "db/data.bin")); string(b) != "rows v2\n" {
				t.Fatalf("pass one touched the target: db/data.bin = %q", b)
			}
			// The app writes a staged path between pass one and the stop.
			writeTree(t, p.vol, map[string]string{"db/data.bin": "rows v3, after the stage\n"})
			must(t, os.Remove(fp))
			r := mustOK(t, run.wait(t, 5*time.Minute))
			out := r.Stdout + r.Stderr
			// Staged: the two files the upgrade changed (and what the app rewrote of its own);
			// extracted: db/data.bin alone, rewritten after its stage.
			sg := regexp.MustCompile(`appdata: staged (\d+) file\(s\)`).FindStringSubmatch(out)
			dm := regexp.MustCompile(`appdata: differential restore: (\d+) of \d+ files rewritten \((\d+) renamed from the stage, (\d+) extracted\)`).FindStringSubmatch(out)
			if sg == nil || dm == nil || atoi(t, sg[1]) < 2 || dm[3] != "1" || dm[1] != sg[1] || atoi(t, dm[2]) != atoi(t, sg[1])-1 {
				t.Errorf("want N >= 2 staged, N rewritten: N-1 renamed and 1 extracted (%v, %v): %s", sg, dm, r)
			}
			wantSameTree(t, "after the "+op, want, treediff.Of(t, p.vol))
			if s := stageDirsIn(t, p.vol); len(s) != 0 {
				t.Errorf("stage dirs left after the %s: %v", op, s)
			}
			sm := regexp.MustCompile(`is in backup (\S+)`).FindStringSubmatch(out)
			if sm == nil {
				t.Fatalf("no safety backup named: %s", r)
			}
			mb, err := os.ReadFile(filepath.Join(p.backupPath(sm[1]), "manifest.json"))
			must(t, err)
			if regexp.MustCompile(`\.maim-stage-[0-9a-f]{32}`).Match(mb) {
				t.Errorf("safety backup %s records the stage: %s", sm[1], mb)
			}
			mustOK(t, p.maim(append(append([]string(nil), restoreArgs...), sm[1], "--no-safety-backup")...))
			if s := stageDirsIn(t, p.vol); len(s) != 0 {
				t.Errorf("the safety backup put back holds the stage: %v", s)
			}
			if b, _ := os.ReadFile(filepath.Join(p.vol, "db/data.bin")); string(b) != "rows v3, after the stage\n" {
				t.Errorf("the safety backup put back: db/data.bin = %q, want what the stop left", b)
			}
			p.wantNoJournal()
		})
	}
}

// TestPrestageKilled: a kill -9 of docker-maim between the stage and the stop (failpoint
// OP:prestaged) leaves the stage dir and a journal; `rollback` resolves it; a backup taken
// then leaves the stage dir out (restored, it leaves none); a restore of the backup then
// gives it back byte for byte, with no stage dir left.
func TestPrestageKilled(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, op := range []string{"restore", "rollback"} {
		t.Run(op, func(t *testing.T) {
			p, id, want := prestageProject(t, "prestage-kill-"+op)
			args := append(append([]string(nil), restoreArgs...), id)
			if op == "rollback" {
				args = []string{"rollback", id, "--stable-period", "1s", "--timeout", "2m"}
			}
			wantKilled(t, p.maimWith([]string{"MAIM_FAILPOINT=" + op + ":prestaged", volume.EnvNoHostPath + "=1"}, args...))
			if s := stageDirsIn(t, p.vol); len(s) != 1 {
				t.Fatalf("stage dirs after the kill: %v, want the one pass one made", s)
			}
			mustOK(t, p.maim("rollback", "--stable-period", "1s", "--timeout", "2m"))
			p.wantNoJournal()
			// A backup taken with the leftover there does not take it for data: put back,
			// it leaves no stage dir.
			left := p.backup()
			mustOK(t, p.maimWith([]string{volume.EnvNoHostPath + "=1"}, append(append([]string(nil), restoreArgs...), left, "--no-safety-backup")...))
			if s := stageDirsIn(t, p.vol); len(s) != 0 {
				t.Errorf("stage dirs after restoring a backup taken with the leftover there: %v", s)
			}
			mustOK(t, p.maimWith([]string{volume.EnvNoHostPath + "=1"}, append(append([]string(nil), restoreArgs...), id)...))
			wantSameTree(t, "after the kill and the restore", want, treediff.Of(t, p.vol))
			if s := stageDirsIn(t, p.vol); len(s) != 0 {
				t.Errorf("stage dirs left: %v", s)
			}
		})
	}
}

// TestPrestageDroppedOnFailure: a restore whose safety backup fails after the stage (its
// begun backup dir removed while the restore is held between the stage and the stop) ends
// failed with nothing restored, starts what ran again and removes the stage dir: the data
// is as the run found it.
func TestPrestageDroppedOnFailure(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p, id, _ := prestageProject(t, "prestage-fail")
	before := treediff.Of(t, p.vol)
	fp := filepath.Join(t.TempDir(), "failpoint")
	run := p.maimStart([]string{"MAIM_FAILPOINT=restore:prestaged:wait", "MAIM_FAILPOINT_FILE=" + fp, volume.EnvNoHostPath + "=1"},
		append(append([]string(nil), restoreArgs...), id)...)
	waitFailpoint(t, run, fp, 3*time.Minute)
	if s := stageDirsIn(t, p.vol); len(s) != 1 {
		t.Fatalf("stage dirs while held: %v, want one", s)
	}
	dirs, err := os.ReadDir(filepath.Join(p.BackupDir, p.Name))
	must(t, err)
	removed := 0
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(p.BackupDir, p.Name, d.Name(), "manifest.json")); d.IsDir() && d.Name() != id && os.IsNotExist(err) {
			must(t, os.RemoveAll(filepath.Join(p.BackupDir, p.Name, d.Name())))
			removed++
		}
	}
	if removed != 1 {
		t.Fatalf("removed %d begun backup dirs, want the safety backup's", removed)
	}
	must(t, os.Remove(fp))
	r := run.wait(t, 5*time.Minute)
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "safety backup failed") {
		t.Fatalf("want the restore failed in its safety backup: %s", r)
	}
	if s := stageDirsIn(t, p.vol); len(s) != 0 {
		t.Errorf("stage dirs left after the failure: %v", s)
	}
	wantSameTree(t, "after the failed restore", before, treediff.Of(t, p.vol))
	if c := p.containers()["app"]; !c.State.Running {
		t.Errorf("app does not run after the failed restore")
	}
}
