package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inodeCtime is what tells a file was rewritten: its inode and ctime.
func inodeCtime(t testing.TB, p string) [2]int64 {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Lstat(p, &st))
	return [2]int64{int64(st.Ino), st.Ctim.Nano()}
}

// TestRestoreDifferential: a restore into the very volume and bind dir a backup read
// rewrites only what changed since (an event says "N of M files rewritten"), leaves the
// untouched files as they are (same inode and ctime), and gives the backup's data exactly;
// a restore into a volume that was removed and created again (another inode: not the tree
// the index recorded) is a full extraction, said so, and exact too.
func TestRestoreDifferential(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newFullProject(t, "diffrestore")
	time.Sleep(3100 * time.Millisecond) // the seeded files older than the backup's ctime margin
	id := p.backup()
	compose(t, p.project, "stop")
	want := p.state()
	compose(t, p.project, "start", "store", "bot")
	untouched := filepath.Join(p.vol, "logs/app.log")
	before := inodeCtime(t, untouched)
	damage(t, p.vol)
	damage(t, p.Path("config"))

	r := mustOK(t, p.maim("restore", id))
	for _, src := range []string{"storedata", "./config"} {
		re := regexp.MustCompile(`(?m)` + regexp.QuoteMeta(src) + `: differential restore: (\d+) of (\d+) files rewritten`)
		m := re.FindStringSubmatch(r.Stdout + r.Stderr)
		if m == nil {
			t.Fatalf("no differential restore of %s: %s", src, r)
		}
		if m[1] == m[2] || m[1] == "0" {
			t.Errorf("%s: %s of %s files rewritten: want only the damaged ones", src, m[1], m[2])
		}
	}
	compose(t, p.project, "stop")
	sameState(t, "after the differential restore", p.state(), want)
	if got := inodeCtime(t, untouched); got != before {
		t.Errorf("%s was rewritten although nothing touched it", untouched)
	}

	// A volume removed and created again is not the tree the index recorded.
	compose(t, p.project, "rm", "-f", "store")
	mustOK(t, docker(t, p.Dir, nil, "volume", "rm", p.Name+"_storedata"))
	r = mustOK(t, p.maim("restore", id, "--source", "storedata", "--no-safety-backup"))
	if out := r.Stdout + r.Stderr; !strings.Contains(out, "storedata: restored in full") {
		t.Errorf("the restore into a new volume does not say it restored in full: %s", r)
	}
	compose(t, p.project, "stop")
	sameState(t, "after the full restore", p.state(), want, "storedata")
}

// TestRollbackDifferential: the upgrade's own rollback, after a new version that migrated its
// data and then failed, rewrites only what the new version changed (the output says how
// many files), leaves the bulk it never touched as it was (same inode and ctime) and gives
// the 1.0.0 data back.
func TestRollbackDifferential(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	bp := makeBotProject(t, "rollback-diff", "BOT_FAIL=crash-late\nBOT_FAIL_ON=2.0.0\n")
	bp.start()
	vol := bp.volumeDir(bp.vol)
	seedBulk(t, vol, 8)
	time.Sleep(3100 * time.Millisecond) // the bulk older than the upgrade's backup
	bulk := filepath.Join(vol, "bulk", "b005")
	before := inodeCtime(t, bulk)
	bp.setEnv("BOT_VERSION", "2.0.0")

	r := bp.maim(upgradeArgs...)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (failed and rolled back): %s", r)
	}
	m := regexp.MustCompile(`botdata: differential restore: (\d+) of (\d+) files rewritten`).FindStringSubmatch(r.Stdout + r.Stderr)
	if m == nil {
		t.Fatalf("the rollback did not restore botdata differentially: %s", r)
	}
	t.Log(m[0])
	if m[1] == m[2] {
		t.Errorf("the rollback rewrote all %s files of botdata", m[2])
	}
	if got := inodeCtime(t, bulk); got != before {
		t.Errorf("%s, which no version touched, was rewritten by the rollback", bulk)
	}
	bp.wantBot("1.0.0")
	_, dir := bp.data()
	if d := readDataJSON(t, dir); d.Schema != 1 || len(d.Migrations) != 0 {
		t.Errorf("data.json after the rollback: %+v", d)
	}
	bp.wantNoJournal()
}
