package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
)

const pgImage17 = "maim-test-postgres:17"

// TestDBMigratePostgres15To17AndBack: the immich-like project goes 15 -> 16 -> 17 by two
// `upgrade --migrate-db db` runs (the 16 image's pg_dumpall is Debian 13's 17, which dumps
// a 16 server: scripts/db-images.sh), every table's COPY output the same at each step, rows
// written on 16 carried to 17; then back: `rollback` gives 16 again on the data directory
// byte for byte as the second upgrade's backup holds it, and `rollback ID` of the first
// upgrade's backup gives 15 on its data directory byte for byte, every table as it was.
func TestDBMigratePostgres15To17AndBack(t *testing.T) {
	requireDBImages(t, pgImage17)
	p, app, ref16 := newMigrateProject(t, "db-migrate-17")
	ref17 := testrig.Registry() + "/" + p.Name + "/pg:17"
	p.TrackImage(ref17)
	mustOK(t, docker(t, "", nil, "tag", pgImage17, ref17))
	mustOK(t, docker(t, "", nil, "push", "-q", ref17))
	db := p.Name + "-db-1"

	migrate := func(ref, major string, want map[string]string) string {
		t.Helper()
		p.WriteFile(".env", "DB_IMAGE="+ref+"\nAPP_IMAGE="+app+"\n")
		up := p.maim("upgrade", "--migrate-db", "db", "--one-pass", "--compression", "none", "--stable-period", "1s", "--timeout", "3m", "--format", "json")
		t.Log(up.Stderr)
		mustOK(t, up)
		var res struct {
			BackupID string `json:"backup_id"`
		}
		must(t, json.Unmarshal([]byte(up.Stdout), &res))
		waitHealthy(t, db)
		if v := pgVersionOf(t, p); v != major {
			t.Fatalf("PG_VERSION after the migration: %q, want %s", v, major)
		}
		if v := psqlIn(t, db, "SHOW server_version_num"); !strings.HasPrefix(v, major) {
			t.Fatalf("the server runs %q, want %s", v, major)
		}
		wantSameTables(t, want, tableCopies(t, db))
		return res.BackupID
	}
	back := func(major, id string, want map[string]string, args ...string) {
		t.Helper()
		rb := p.maim(append([]string{"rollback", "--stable-period", "1s", "--timeout", "3m"}, args...)...)
		t.Log(rb.Stderr)
		mustOK(t, rb)
		waitHealthy(t, db)
		if v := pgVersionOf(t, p); v != major {
			t.Fatalf("PG_VERSION after the rollback: %q, want %s", v, major)
		}
		wantDataAsBackedUp(t, p, id) // before any query: as TestDBMigratePostgres compares
		if v := psqlIn(t, db, "SHOW server_version_num"); !strings.HasPrefix(v, major) {
			t.Errorf("after the rollback the server runs %q, want %s", v, major)
		}
		wantSameTables(t, want, tableCopies(t, db))
	}

	on15 := tableCopies(t, db)
	b15 := migrate(ref16, "16", on15)
	psqlIn(t, db, `INSERT INTO customers (email, name) VALUES ('on16@example.org', 'Written on 16');
INSERT INTO events (customer_id, kind, n, payload) SELECT 501, 'on16', 5000 + i, 'sixteen ' || i FROM generate_series(1, 50) i;
SELECT nextval('invoice_no');`)
	on16 := tableCopies(t, db)
	if on16["customers"] == on15["customers"] {
		t.Fatal("the rows written on 16 are not in its tables")
	}
	b16 := migrate(ref17, "17", on16)
	if n := strings.TrimSpace(psqlIn(t, db, "SELECT nextval('invoice_no')")); n != "1008" {
		t.Errorf("nextval on 17: %s, want 1008 (the sequence goes on across two moves)", n)
	}

	back("16", b16, on16)
	back("15", b15, on15, b15)
}
