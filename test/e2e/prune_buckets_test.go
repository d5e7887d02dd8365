package e2e

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// TestPruneBuckets: prune by time buckets over a month of backups with fixed times, in
// the time zone of TZ. The backups are one real backup's archives and manifest written
// again through the repository API (backup.Store: Begin, archives, Commit) with another
// time, so each is a complete backup of this engine and user, as `docker maim backup`
// makes them.
//   - with TZ=Europe/Berlin, 23:30Z on 3 November is 00:30 on the 4th there: the 4th's
//     newest is 22:30Z and the 3rd's is its 10:00Z backup (in UTC both would differ);
//   - `prune --keep-daily 3 --format json` keeps the newest of each of the 3 newest days
//     with their reasons, and the last upgrade's backup (reason upgrade, no history:
//     rollback's default target) that no rule keeps; the dry run said the same and
//     removed nothing; the JSON matches docs/schema/prune.json;
//   - `prune --keep-within 2d` then keeps what is within 2 days of the newest.
func TestPruneBuckets(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "prune-buckets", dataCompose)
	writeTree(t, p.Path("data"), map[string]string{"a": "a", "b/c": "c"})
	real := p.backup()

	store := backup.Local(p.BackupDir)
	at := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		must(t, err)
		return tm
	}
	var times []string
	for d := at("2026-10-01 10:00"); !d.After(at("2026-11-04 10:00")); d = d.AddDate(0, 0, 1) {
		times = append(times, d.Format("2006-01-02 15:04"))
	}
	times = append(times, "2026-11-03 23:30", "2026-11-04 22:30")
	ids := map[string]string{} // time -> ID
	for _, s := range times {
		reason := "manual"
		if s == "2026-10-10 10:00" {
			reason = "upgrade"
		}
		ids[s] = cloneBackupAt(t, store, p.Name, real, at(s), reason)
	}
	must(t, store.Remove(p.Name, real))

	berlin := []string{"COMPOSE_PROJECT_NAME=" + p.Name, "TZ=Europe/Berlin"}
	wantKept := map[string][]string{
		ids["2026-11-04 22:30"]: {"daily 2026-11-04"},
		ids["2026-11-03 10:00"]: {"daily 2026-11-03"},
		ids["2026-11-02 10:00"]: {"daily 2026-11-02"},
		ids["2026-10-10 10:00"]: {"needed by rollback"},
	}
	schemas := loadSchemas(t)
	plan := prunedDoc(t, schemas, mustOK(t, maimEnv(t, p.Dir, berlin, "prune", "--keep-daily", "3", "--dry-run", "--format", "json")))
	if left := backupIDs(t, p); len(left) != len(times) {
		t.Fatalf("the dry run removed backups: %d left of %d", len(left), len(times))
	}
	done := prunedDoc(t, schemas, mustOK(t, maimEnv(t, p.Dir, berlin, "prune", "--keep-daily", "3", "--format", "json")))
	for what, d := range map[string]pruneDoc{"dry run": plan, "prune": done} {
		if got := d.keptReasons(); !equalReasons(got, wantKept) {
			t.Errorf("%s kept %v, want %v", what, got, wantKept)
		}
		if len(d.Removed) != len(times)-len(wantKept) {
			t.Errorf("%s removed %d backups, want %d", what, len(d.Removed), len(times)-len(wantKept))
		}
	}
	if !slices.Equal(plan.removedIDs(), done.removedIDs()) {
		t.Errorf("prune removed %v, its dry run said %v", done.removedIDs(), plan.removedIDs())
	}
	var wantLeft []string
	for id := range wantKept {
		wantLeft = append(wantLeft, id)
	}
	slices.Sort(wantLeft)
	if left := backupIDs(t, p); !slices.Equal(left, wantLeft) {
		t.Errorf("left on disk %v, want %v", left, wantLeft)
	}
	for _, k := range done.Kept {
		if k.ID == ids["2026-10-10 10:00"] && k.Rule != "last-upgrade" {
			t.Errorf("the upgrade backup is kept by %q, want last-upgrade", k.Rule)
		}
	}

	r := mustOK(t, maimEnv(t, p.Dir, berlin, "prune", "--keep-within", "2d"))
	for _, line := range []string{
		"removed " + ids["2026-11-02 10:00"] + " ",
		"kept " + ids["2026-11-04 22:30"] + ": kept by within 2d (--keep-within 2d)",
		"kept " + ids["2026-11-03 10:00"] + ": kept by within 2d",
		"kept " + ids["2026-10-10 10:00"] + ": the last upgrade's backup",
	} {
		if !strings.Contains(r.Stdout, line) {
			t.Errorf("prune --keep-within 2d does not say %q:\n%s", line, r.Stdout)
		}
	}
	if left := backupIDs(t, p); len(left) != 3 || slices.Contains(left, ids["2026-11-02 10:00"]) {
		t.Errorf("after --keep-within 2d: left %v", left)
	}
}

// cloneBackupAt writes backup id of project again as a new backup made at t with reason,
// through the repository API: its archives copied, its manifest with the new time.
func cloneBackupAt(t *testing.T, s backup.Store, project, id string, at time.Time, reason string) string {
	t.Helper()
	e, err := s.Get(project, id)
	must(t, err)
	if e.Status != backup.StatusComplete {
		t.Fatalf("backup %s is %s", id, e.Status)
	}
	w, err := s.Begin(project, at)
	must(t, err)
	defer func() { _ = w.Abort() }()
	for _, name := range e.Manifest.Files() { // archives, deltas, indexes, dumps
		b, err := s.ReadFile(project, id, name)
		must(t, err)
		a, err := w.Create(name)
		must(t, err)
		_, err = a.Write(b)
		must(t, err)
		_, _, err = a.Commit()
		must(t, err)
	}
	m := *e.Manifest
	m.CreatedAt, m.Reason = at, reason
	must(t, w.Commit(&m))
	return w.ID
}

// pruneDoc is prune's JSON document, as far as these tests read it.
type pruneDoc struct {
	Removed []struct {
		ID   string    `json:"id"`
		Time time.Time `json:"time"`
	} `json:"removed"`
	Kept []struct {
		ID      string   `json:"id"`
		Rule    string   `json:"rule"`
		Reasons []string `json:"reasons"`
	} `json:"kept"`
}

// prunedDoc checks r's stdout against docs/schema/prune.json and parses it.
func prunedDoc(t *testing.T, s schemaSet, r Result) pruneDoc {
	t.Helper()
	wantDoc(t, s, "prune.json", strings.Join(r.Args, " "), r.Stdout)
	var d pruneDoc
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatalf("prune --format json: %v\n%s", err, r.Stdout)
	}
	return d
}

func (d pruneDoc) keptReasons() map[string][]string {
	out := map[string][]string{}
	for _, k := range d.Kept {
		out[k.ID] = k.Reasons
	}
	return out
}

func (d pruneDoc) removedIDs() []string {
	var out []string
	for _, r := range d.Removed {
		out = append(out, r.ID)
	}
	return out
}

func equalReasons(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// backupIDs are the backup directories of p on disk, sorted.
func backupIDs(t *testing.T, p *project) []string {
	t.Helper()
	des, err := os.ReadDir(p.backupPath(""))
	must(t, err)
	var out []string
	for _, de := range des {
		if de.IsDir() && backup.ValidID(de.Name()) {
			out = append(out, de.Name())
		}
	}
	slices.Sort(out)
	return out
}
