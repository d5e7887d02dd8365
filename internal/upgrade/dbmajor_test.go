package upgrade

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
)

// dbCase is service db of the transaction rig as a PostgreSQL server: the image it runs
// (sha256:db, tag db:16) and the one the pull moves db:16 to (sha256:db2) with their
// environments, its mount of ./pg at target, its own environment, and the files of ./pg.
type dbCase struct {
	oldEnv, newEnv []string
	target         string
	svcEnv         map[string]string
	files          map[string]string // path under ./pg -> content
}

// dbRig is the rig of c: a floating-tag upgrade of db, read through the fake mover from ./pg.
func dbRig(t *testing.T, c dbCase) *txRig {
	t.Helper()
	r := newTxRig(t)
	r.eng.pullTo["db:16"] = "sha256:db2"
	r.eng.images["sha256:db2"] = true
	r.eng.env = map[string][]string{"sha256:db": c.oldEnv, "sha256:db2": c.newEnv}
	pg := filepath.Join(r.dir, "pg")
	if err := os.MkdirAll(pg, 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, content := range c.files {
		p := filepath.Join(pg, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.dbVolumes = []types.ServiceVolumeConfig{{Type: types.VolumeTypeBind, Source: pg, Target: c.target}}
	if c.svcEnv != nil {
		r.dbEnv = types.MappingWithEquals{}
		for k, v := range c.svcEnv {
			r.dbEnv[k] = &v
		}
	}
	r.p = r.model()
	return r
}

func pgEnv(major, pgdata string) []string {
	return []string{"PATH=/usr/local/bin", "PG_MAJOR=" + major, "PGDATA=" + pgdata}
}

const pgData = "/var/lib/postgresql/data"

// TestDatabaseDecisions: the plan reads the data dir's PG_VERSION of the server that runs
// now (its PGDATA, the service's own overriding it; PostgreSQL 18's layout) from the
// source mounted there, and decides on it against the new image's major.
func TestDatabaseDecisions(t *testing.T) {
	big := strings.Repeat("15\n", 1<<18)
	for _, tc := range []struct {
		name             string
		c                dbCase
		decision         string
		dataVer, dataDir string
		says             string
	}{
		{"same major (15 -> 15.x)", dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("15", pgData), target: pgData,
			files: map[string]string{"PG_VERSION": "15\n"}}, maim.DBSame, "15", pgData, "same major"},
		{"major up (15 -> 16)", dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("16", pgData), target: pgData,
			files: map[string]string{"PG_VERSION": "15\n"}}, maim.DBRefused, "15", pgData, "PostgreSQL 16, which cannot open it"},
		{"downgrade (16 -> 15)", dbCase{oldEnv: pgEnv("16", pgData), newEnv: pgEnv("15", pgData), target: pgData,
			files: map[string]string{"PG_VERSION": "16\n"}}, maim.DBRefused, "16", pgData, "a downgrade"},
		{"empty data dir", dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("16", pgData), target: pgData},
			maim.DBFresh, "", pgData, "fresh database"},
		{"18's layout, same major", dbCase{oldEnv: pgEnv("18", "/var/lib/postgresql/18/docker"), newEnv: pgEnv("18", "/var/lib/postgresql/18/docker"),
			target: "/var/lib/postgresql", files: map[string]string{"18/docker/PG_VERSION": "18\n"}}, maim.DBSame, "18", "/var/lib/postgresql/18/docker", "same major"},
		{"17 -> 18's layout", dbCase{oldEnv: pgEnv("17", pgData), newEnv: pgEnv("18", "/var/lib/postgresql/18/docker"),
			target: "/var/lib/postgresql", files: map[string]string{"data/PG_VERSION": "17\n"}}, maim.DBRefused, "17", pgData, "PostgreSQL 17"},
		{"PGDATA of the service", dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("16", pgData), target: pgData,
			svcEnv: map[string]string{"PGDATA": pgData + "/pgdata"}, files: map[string]string{"PG_VERSION": "16\n", "pgdata/PG_VERSION": "15\n"}},
			maim.DBRefused, "15", pgData + "/pgdata", "PostgreSQL 15"},
		{"hostile: huge", dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("16", pgData), target: pgData,
			files: map[string]string{"PG_VERSION": big}}, maim.DBRefused, "", pgData, "786432 bytes"},
		{"hostile: binary", dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("16", pgData), target: pgData,
			files: map[string]string{"PG_VERSION": "\x7fELF\x00\x01"}}, maim.DBRefused, "", pgData, "not a version"},
		{"hostile: a path after the version", dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("15", pgData), target: pgData,
			files: map[string]string{"PG_VERSION": "15\n../../"}}, maim.DBRefused, "", pgData, "not a version"},
		{"hostile: negative", dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("15", pgData), target: pgData,
			files: map[string]string{"PG_VERSION": "-15\n"}}, maim.DBRefused, "", pgData, "not a version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dbRig(t, tc.c)
			pl, err := planThrough(t, r, Options{}, "databases")
			if err != nil {
				t.Fatal(err)
			}
			if len(pl.plan.Databases) != 1 {
				t.Fatalf("databases %+v, want db alone", pl.plan.Databases)
			}
			db := pl.plan.Databases[0]
			if db.Service != "db" || db.Engine != maim.DBPostgreSQL || db.Decision != tc.decision || db.DataVersion != tc.dataVer || db.DataDir != tc.dataDir || db.Source != "./pg" {
				t.Fatalf("database %+v, want %s of data %q in %s on ./pg", db, tc.decision, tc.dataVer, tc.dataDir)
			}
			if !strings.Contains(db.Reason, tc.says) {
				t.Errorf("reason %q does not say %q", db.Reason, tc.says)
			}
		})
	}
}

// TestDatabaseSymlinkNotFollowed: a PG_VERSION that is a symbolic link is not read (it may
// lead anywhere on the host): refused, saying why.
func TestDatabaseSymlinkNotFollowed(t *testing.T) {
	r := dbRig(t, dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("15", pgData), target: pgData})
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(r.dir, "pg", "PG_VERSION")); err != nil {
		t.Fatal(err)
	}
	pl, err := planThrough(t, r, Options{}, "databases")
	if err != nil {
		t.Fatal(err)
	}
	if db := pl.plan.Databases[0]; db.Decision != maim.DBRefused || !strings.Contains(db.Reason, "symbolic link") {
		t.Fatalf("database %+v, want refused: a symbolic link", db)
	}
}

// TestDatabaseRefusalStopsNothing: a refused database stops the upgrade before anything
// stops, --accept-breaking or not; the pull is undone and the refusal is in the history
// and says the way forward. The same major upgrades; a dry-run lists the refusal.
func TestDatabaseRefusalStopsNothing(t *testing.T) {
	up := dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("16", pgData), target: pgData, files: map[string]string{"PG_VERSION": "15\n"}}
	for _, accept := range []bool{false, true} {
		r := dbRig(t, up)
		res, err := r.m.Upgrade(context.Background(), r.p, Options{AcceptBreaking: accept, Health: fastHealth})
		var ue *Error
		if !errors.As(err, &ue) || ue.Outcome != OutcomeRefused {
			t.Fatalf("--accept-breaking=%v: upgrade %v, want refused", accept, err)
		}
		for _, s := range []string{"database db:", "PostgreSQL 15", "PostgreSQL 16", "pg_dumpall", "put service db's image back to db:16"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("refusal does not say %q: %v", s, err)
			}
		}
		if res == nil || res.Plan == nil || len(res.Plan.Databases) != 1 || !res.Plan.Databases[0].Refused() {
			t.Fatalf("refused result %+v carries no refused database", res)
		}
		for _, call := range r.eng.Calls() {
			if strings.HasPrefix(call, "stop ") || strings.HasPrefix(call, "up ") {
				t.Errorf("--accept-breaking=%v: %s before the refusal", accept, call)
			}
		}
		if got := r.eng.tags["db:16"]; got != "sha256:db" {
			t.Errorf("db:16 points to %s after the refusal, want the old sha256:db", got)
		}
		if h := r.history(); len(h) != 1 || h[0].Result != string(OutcomeRefused) || !strings.Contains(h[0].Error, "pg_dumpall") {
			t.Errorf("history %+v, want the refusal with its way forward", h)
		}
	}
	r := dbRig(t, up)
	res, err := r.m.Upgrade(context.Background(), r.p, Options{DryRun: true})
	if err != nil || res.Outcome != OutcomeDryRun || !res.Plan.Databases[0].Refused() {
		t.Fatalf("dry-run: %v, %+v; want the refusal listed", err, res)
	}
	same := up
	same.newEnv = pgEnv("15", pgData)
	r = dbRig(t, same)
	res, err = r.m.Upgrade(context.Background(), r.p, Options{Health: fastHealth})
	if err != nil || res.Outcome != OutcomeUpgraded {
		t.Fatalf("same major: %v, %+v; want upgraded", err, res)
	}
	if !slices.Contains(r.eng.Calls(), "stop db") {
		t.Errorf("same major: calls %v, want db stopped and upgraded", r.eng.Calls())
	}
}

// TestDatabaseMariaDB: a MariaDB image (MARIADB_VERSION) on data whose upgrade info says
// an older series upgrades in place with MARIADB_AUTO_UPGRADE set on the service and
// otherwise proceeds with a warning to run mariadb-upgrade; an older image is refused, and
// the refusal stops nothing.
func TestDatabaseMariaDB(t *testing.T) {
	maria := func(v string) []string { return []string{"MARIADB_VERSION=1:" + v + "+maria~ubu2404"} }
	for _, tc := range []struct {
		name     string
		c        dbCase
		decision string
		warns    bool
	}{
		{"auto upgrade", dbCase{oldEnv: maria("10.11.6"), newEnv: maria("11.4.2"), target: "/var/lib/mysql",
			svcEnv: map[string]string{"MARIADB_AUTO_UPGRADE": "1"}, files: map[string]string{"mysql_upgrade_info": "10.11.6-MariaDB"}}, maim.DBInPlace, false},
		{"by hand", dbCase{oldEnv: maria("10.11.6"), newEnv: maria("11.4.2"), target: "/var/lib/mysql",
			files: map[string]string{"mariadb_upgrade_info": "10.11.6-MariaDB"}}, maim.DBManual, true},
		{"downgrade", dbCase{oldEnv: maria("11.4.2"), newEnv: maria("10.11.6"), target: "/var/lib/mysql",
			files: map[string]string{"mariadb_upgrade_info": "11.4.2-MariaDB"}}, maim.DBRefused, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dbRig(t, tc.c)
			pl, err := planThrough(t, r, Options{}, "databases")
			if err != nil {
				t.Fatal(err)
			}
			db := pl.plan.Databases[0]
			if db.Engine != maim.DBMariaDB || db.Decision != tc.decision || db.DataDir != "/var/lib/mysql" {
				t.Fatalf("database %+v, want MariaDB %s in /var/lib/mysql", db, tc.decision)
			}
			warned := slices.ContainsFunc(pl.plan.Warnings, func(w string) bool { return strings.Contains(w, "mariadb-upgrade") })
			if warned != tc.warns {
				t.Errorf("warnings %q: a mariadb-upgrade warning %v, want %v", pl.plan.Warnings, warned, tc.warns)
			}
			if !db.Refused() {
				return
			}
			r = dbRig(t, tc.c)
			if _, err := r.m.Upgrade(context.Background(), r.p, Options{AcceptBreaking: true, Health: fastHealth}); err == nil || !strings.Contains(err.Error(), "a downgrade") {
				t.Fatalf("upgrade %v, want refused as a downgrade", err)
			}
			if slices.ContainsFunc(r.eng.Calls(), func(c string) bool { return strings.HasPrefix(c, "stop ") }) {
				t.Errorf("calls %v: something stopped", r.eng.Calls())
			}
		})
	}
}

// TestDatabaseResetData: --reset-data on the data's source lets a major change through
// (the new server starts afresh; the old data is in the backup), once the breaking change
// is accepted.
func TestDatabaseResetData(t *testing.T) {
	r := dbRig(t, dbCase{oldEnv: pgEnv("15", pgData), newEnv: pgEnv("16", pgData), target: pgData, files: map[string]string{"PG_VERSION": "15\n"}})
	pl, err := planThrough(t, r, Options{ResetData: []string{"./pg"}}, "databases")
	if err != nil {
		t.Fatal(err)
	}
	if db := pl.plan.Databases[0]; db.Decision != maim.DBReset || db.Refused() {
		t.Fatalf("database %+v, want reset", db)
	}
	if err := databaseRefusal(pl.plan.Databases); err != nil {
		t.Fatalf("the policy refuses a reset database: %v", err)
	}
}
