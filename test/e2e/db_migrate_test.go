package e2e

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/testrig"
)

// PostgreSQL major upgrades by upgrade --migrate-db, with the real servers of the test
// images: 15 -> 16 here, 15 -> 16 -> 17 and back in db_migrate17_test.go (the 16 image's
// pg_dump is 17's: scripts/db-images.sh).

const pgImage16 = "maim-test-postgres:16"

// pgMigrateCompose is an immich-like project: the database on a named volume with a
// healthcheck, and an app that depends on it (the stand-in bot: it only runs; nothing
// writes during the upgrade, so every table can be compared row for row).
const pgMigrateCompose = `services:
` + pgDBService + `  app:
    image: ${APP_IMAGE}
    depends_on:
      db:
        condition: service_healthy
volumes:
  pgdata: {}
`

// pgDBService is the database of the migrate projects: PostgreSQL (DB_IMAGE) on a named
// volume, healthy once it answers.
const pgDBService = `  db:
    image: ${DB_IMAGE}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: app-s3cret
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app", "-d", "appdb"]
      interval: 1s
      timeout: 3s
      retries: 60
`

// pgTables are the tables of pgSchema, compared by their COPY output.
var pgTables = []string{"customers", "events", "ledger"}

// newMigrateProject starts pgMigrateCompose on PostgreSQL 15 with pgSchema (a few events
// too) and returns the project and its registry references of 15 and 16.
func newMigrateProject(t *testing.T, name string) (p *project, app, ref16 string) {
	requireEngine(t)
	requireDBImages(t, pgImage15, pgImage16)
	p = newProject(t, name, pgMigrateCompose)
	var ref15 string
	ref15, ref16 = testrig.Registry()+"/"+p.Name+"/pg:15", testrig.Registry()+"/"+p.Name+"/pg:16"
	for img, ref := range map[string]string{pgImage15: ref15, pgImage16: ref16} {
		p.TrackImage(ref)
		mustOK(t, docker(t, "", nil, "tag", img, ref))
		mustOK(t, docker(t, "", nil, "push", "-q", ref))
	}
	app = p.Bot("1.0.0")
	p.WriteFile(".env", "DB_IMAGE="+ref15+"\nAPP_IMAGE="+app+"\n")
	compose(t, p, "up", "-d", "--wait")
	psqlIn(t, p.Name+"-db-1", pgSchema+`
INSERT INTO events (customer_id, kind, n, payload) SELECT i % 500 + 1, 'tick', i, 'row ' || i FROM generate_series(1, 1000) i;`)
	return p, app, ref16
}

// tableCopies is each table's COPY output (ordered by its key) and the fingerprint.
func tableCopies(t *testing.T, db string) map[string]string {
	out := map[string]string{"fingerprint": psqlIn(t, db, pgFingerprint)}
	for _, tb := range pgTables {
		out[tb] = psqlIn(t, db, "COPY (SELECT * FROM "+tb+" ORDER BY 1) TO STDOUT")
	}
	return out
}

func pgVersionOf(t *testing.T, p *project) string {
	b, err := os.ReadFile(filepath.Join(p.volumeDir(p.Name+"_pgdata"), "PG_VERSION"))
	must(t, err)
	return strings.TrimSpace(string(b))
}

// TestDBMigratePostgres: 15 -> 16 is refused without --migrate-db (exit 12, nothing
// stopped); the dry-run with it shows the move and its estimate; the upgrade with it runs
// 16 on the data (PG_VERSION 16), every table's COPY output, the indexes, the sequence and
// the role are the same, the role logs in over TCP and the sequence goes on; then
// `docker maim rollback` runs 15 again on the data directory byte for byte as the upgrade's
// backup holds it (but the files a starting server writes), every table the same.
func TestDBMigratePostgres(t *testing.T) {
	p, app, ref16 := newMigrateProject(t, "db-migrate")
	db := p.Name + "-db-1"
	before := tableCopies(t, db)
	p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")

	started := startedAt(t, db)
	wantFail(t, p.maim("upgrade", "--stable-period", "1s", "--timeout", "2m"), 12, "written by PostgreSQL 15", "runs PostgreSQL 16")
	if startedAt(t, db) != started {
		t.Fatalf("the refused upgrade restarted the database")
	}
	wantFail(t, p.maim("upgrade", "--migrate-db", "app"), 12, "--migrate-db app: service app runs no PostgreSQL image")

	dry := mustOK(t, p.maim("upgrade", "--migrate-db", "db", "--dry-run"))
	for _, want := range []string{"database db: postgresql 15 -> 16, /var/lib/postgresql/data on pgdata: migrate", "pg_dumpall -U app", "at an assumed 40 MiB/s", "migrate-db"} {
		if !strings.Contains(dry.Stdout, want) {
			t.Errorf("the dry-run does not say %q:\n%s", want, dry.Stdout)
		}
	}

	doc := wantDoc(t, loadSchemas(t), "upgrade.json", "upgrade --migrate-db db --dry-run --format json", mustOK(t, p.maim("upgrade", "--migrate-db", "db", "--dry-run", "--format", "json")).Stdout)
	plan, _ := doc["plan"].(map[string]any)
	dbs, _ := plan["databases"].([]any)
	if len(dbs) != 1 {
		t.Fatalf("JSON plan databases %v", plan["databases"])
	}
	mig, _ := dbs[0].(map[string]any)["migration"].(map[string]any)
	if dbs[0].(map[string]any)["decision"] != "migrate" || mig == nil || fmt.Sprint(mig["rate_bytes_per_second"]) != fmt.Sprint(40<<20) || fmt.Sprint(mig["data_bytes"]) == "0" || len(asStrings(mig["steps"])) == 0 {
		t.Errorf("JSON plan database %v", dbs[0])
	}

	up := p.maim("upgrade", "--migrate-db", "db", "--one-pass", "--compression", "none", "--stable-period", "1s", "--timeout", "2m", "--format", "json")
	t.Log(up.Stderr)
	mustOK(t, up)
	var res struct {
		BackupID string `json:"backup_id"`
	}
	must(t, json.Unmarshal([]byte(up.Stdout), &res))
	if v := pgVersionOf(t, p); v != "16" {
		t.Fatalf("PG_VERSION after the migration: %q, want 16", v)
	}
	if v := psqlIn(t, db, "SHOW server_version_num"); !strings.HasPrefix(v, "16") {
		t.Errorf("the server runs %q, want 16", v)
	}
	wantSameTables(t, before, tableCopies(t, db))
	if n := strings.TrimSpace(psqlIn(t, db, "SELECT nextval('invoice_no')")); n != "1007" {
		t.Errorf("nextval after the migration: %s, want 1007 (the sequence goes on)", n)
	}
	login := dockerIn(t, "", nil, "", "run", "--rm", "--network", p.Name+"_default", "-e", "PGPASSWORD=reader-pw",
		"--entrypoint", "psql", pgImage16, "-h", "db", "-U", "reader", "-d", "appdb", "-Atc", "SELECT count(*) FROM customers")
	if login.Code != 0 || strings.TrimSpace(login.Stdout) != "500" {
		t.Errorf("reader's login over TCP on 16: %s", login)
	}
	mustOK(t, p.maim("verify", res.BackupID))
	for k := range backedUpListing(t, p, res.BackupID, "pgdata", 0) {
		if strings.HasPrefix(k, ".maim-migrate-") {
			t.Errorf("the upgrade's backup holds the side directory: %s", k)
		}
	}
	wantNoSide(t, p)

	// Back to 15: the old image, the old data directory byte for byte.
	rb := p.maim("rollback")
	t.Log(rb.Stderr)
	mustOK(t, rb)
	waitHealthy(t, db)
	if v := pgVersionOf(t, p); v != "15" {
		t.Fatalf("PG_VERSION after the rollback: %q, want 15", v)
	}
	if v := psqlIn(t, db, "SHOW server_version_num"); !strings.HasPrefix(v, "15") {
		t.Errorf("after the rollback the server runs %q, want 15", v)
	}
	wantDataAsBackedUp(t, p, res.BackupID)
	wantSameTables(t, before, tableCopies(t, db))
}

// TestDBMigratePostgresLoadFails: a database setting PostgreSQL 16 no longer knows
// (force_parallel_mode, renamed debug_parallel_query in 16) makes the load into the side
// cluster report an error the migration does not accept, while the dump streams (before
// the backup completes): the upgrade rolls back by itself (exit 10), nothing changed, no
// backup kept, 15 running every table as before, no side container or directory left.
func TestDBMigratePostgresLoadFails(t *testing.T) {
	p, app, ref16 := newMigrateProject(t, "db-migrate-fail")
	db := p.Name + "-db-1"
	psqlIn(t, db, "ALTER DATABASE appdb SET force_parallel_mode = off;")
	before, top := tableCopies(t, db), topEntries(t, p)
	p.WriteFile(".env", "DB_IMAGE="+ref16+"\nAPP_IMAGE="+app+"\n")
	up := p.maim("upgrade", "--migrate-db", "db", "--one-pass", "--compression", "none", "--stable-period", "1s", "--timeout", "2m", "--format", "json")
	t.Log(up.Stderr)
	if up.Code != 10 {
		t.Fatalf("want exit 10 (rolled back): %s", up)
	}
	if !strings.Contains(up.Stdout+up.Stderr, `unrecognized configuration parameter \"force_parallel_mode\"`) && !strings.Contains(up.Stdout+up.Stderr, `unrecognized configuration parameter "force_parallel_mode"`) {
		t.Errorf("the failure does not name the load's error:\n%s\n%s", up.Stdout, up.Stderr)
	}
	var res struct {
		BackupID string `json:"backup_id"`
		Outcome  string `json:"outcome"`
	}
	must(t, json.Unmarshal([]byte(up.Stdout), &res))
	if res.Outcome != "rolled-back" || res.BackupID != "" {
		t.Fatalf("outcome %q, backup %q: want rolled-back, no backup (the load failed before the backup completed)", res.Outcome, res.BackupID)
	}
	waitHealthy(t, db)
	if v := pgVersionOf(t, p); v != "15" {
		t.Fatalf("PG_VERSION after the rollback: %q, want 15", v)
	}
	wantNoSide(t, p)
	if got := topEntries(t, p); fmt.Sprint(got) != fmt.Sprint(top) {
		t.Errorf("the volume's entries after the rollback: %v, want %v", got, top)
	}
	wantSameTables(t, before, tableCopies(t, db))
}

// wantBackOn15 checks the end of a resolved migration that never completed: PostgreSQL 15's
// data dir with every table as before, no backup kept (backupsWhat names the backups in
// the error) and no journal.
func wantBackOn15(t *testing.T, p *project, db string, before map[string]string, backupsWhat string) {
	t.Helper()
	if v := pgVersionOf(t, p); v != "15" {
		t.Errorf("PG_VERSION after the rollback: %q, want 15", v)
	}
	wantSameTables(t, before, tableCopies(t, db))
	if rows := p.backups(); len(rows) != 0 {
		t.Errorf("%s: %+v, want none", backupsWhat, rows)
	}
	p.wantNoJournal()
}

func wantSameTables(t *testing.T, want, got map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s differs: %d bytes, want %d:\n%.600s\nwant:\n%.600s", k, len(got[k]), len(w), got[k], w)
		}
	}
}

// startedFiles are what a PostgreSQL server writes or removes when it starts on a cleanly
// shut down cluster: its pid and options files, pg_control's state, the statistics file
// it reads and deletes, its temporary statistics, and the relation cache init files
// (pg_internal.init) it deletes at start and writes again on the first connections.
// Everything else must be the backup's.
var startedFiles = []string{"postmaster.pid", "postmaster.opts", "global/pg_control", "pg_stat/", "pg_stat_tmp/", "pg_logical/replorigin_checkpoint"}

func startedFile(rel string) bool {
	if filepath.Base(rel) == "pg_internal.init" {
		return true
	}
	for _, s := range startedFiles {
		if rel == s || strings.HasSuffix(s, "/") && (strings.HasPrefix(rel, s) || rel+"/" == s) {
			return true
		}
	}
	return false
}

// wantDataAsBackedUp compares the data volume, file by file (type, mode, size, sha256),
// with pgdata as backup id holds it (one pass, no compression: plain tars), read from the
// tars by the test itself (backedUpListing), not by the product's extraction.
func wantDataAsBackedUp(t *testing.T, p *project, id string) {
	t.Helper()
	want := backedUpListing(t, p, id, "pgdata", 0)
	got := dirListing(t, p.volumeDir(p.Name+"_pgdata"))
	var diffs []string
	for k, w := range want {
		if !startedFile(k) && got[k] != w {
			diffs = append(diffs, fmt.Sprintf("%s: %q, backed up %q", k, got[k], w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && !startedFile(k) {
			diffs = append(diffs, k+": not in the backup")
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("the data directory is not the backup's (%d of %d paths differ):\n%s", len(diffs), len(want), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
	} else {
		t.Logf("the data directory is the backup's: %d paths compared", len(want))
	}
}

// backedUpListing is source name as backup id holds it: a full source's tar listing; an
// incremental one's (Base) its base's listing with its own archive, a delta, laid over it
// (overlayDelta), the test's own model of the chain a restore applies. A two-pass Delta is
// not expected (the tests take one-pass backups).
func backedUpListing(t *testing.T, p *project, id, name string, depth int) map[string]string {
	t.Helper()
	src := p.manifest(id).source(t, name)
	if src.Delta != nil {
		t.Fatalf("%s of backup %s has a two-pass delta: the test wants a one-pass backup", name, id)
	}
	path := filepath.Join(p.backupPath(src.holder(id)), src.Archive)
	if src.Base == nil {
		return tarListing(t, path)
	}
	if depth > 100 {
		t.Fatalf("%s: a chain of more than 100 backups at %s", name, id)
	}
	out := backedUpListing(t, p, src.Base.ID, name, depth+1)
	overlayDelta(t, out, path)
	return out
}

// overlayDelta lays the delta archive at path over the listing out, as archive.ApplyDelta
// documents the format: its first entry is the MAIM.delta=1 global header; each entry
// replaces the path (a non-directory also replaces what was below it); the MAIM.deleted
// global headers name paths removed with everything below them; the rest stays.
func overlayDelta(t *testing.T, out map[string]string, path string) {
	t.Helper()
	gone, flat := map[string]bool{}, map[string]bool{} // deleted; replaced by a non-directory
	first := true
	walkTar(t, path, func(h *tar.Header, rel, desc string) {
		switch {
		case h.Typeflag == tar.TypeXGlobalHeader:
			if first && h.PAXRecords["MAIM.delta"] != "1" || !first && h.PAXRecords["MAIM.deleted"] == "" {
				t.Fatalf("%s: unexpected global header %v (first %v)", path, h.PAXRecords, first)
			}
			for _, d := range strings.Split(h.PAXRecords["MAIM.deleted"], "\x00") {
				if d != "" {
					gone[strings.Trim(strings.TrimPrefix(d, "./"), "/")] = true
				}
			}
		case first:
			t.Fatalf("%s: not a delta (first entry %q)", path, h.Name)
		default:
			out[rel] = desc
			flat[rel] = h.Typeflag != tar.TypeDir
		}
		first = false
	})
	for k := range out {
		if gone[k] {
			delete(out, k)
			continue
		}
		for a := filepath.Dir(k); a != "." && a != "/"; a = filepath.Dir(a) {
			if gone[a] || flat[a] {
				delete(out, k)
				break
			}
		}
	}
}

// tarListing lists a full (not delta) tar: path -> type, mode, size and sha256.
func tarListing(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	walkTar(t, path, func(h *tar.Header, rel, desc string) {
		if h.Typeflag == tar.TypeXGlobalHeader {
			t.Fatalf("%s: a global header (a delta archive?) %v", path, h.PAXRecords)
		}
		out[rel] = desc
	})
	return out
}

// walkTar calls fn for each entry of the tar at path with its cleaned name and description.
func walkTar(t *testing.T, path string, fn func(h *tar.Header, rel, desc string)) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	r, err := archive.Decompress(f, archive.DetectCompression(path))
	must(t, err)
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		must(t, err)
		rel := strings.Trim(strings.TrimPrefix(h.Name, "./"), "/")
		if rel == "" {
			rel = "."
		}
		var desc string
		switch h.Typeflag {
		case tar.TypeDir:
			desc = fmt.Sprintf("dir %o", h.Mode&0o7777)
		case tar.TypeReg:
			s := sha256.New()
			_, err := io.Copy(s, tr)
			must(t, err)
			desc = fmt.Sprintf("file %o %d %s", h.Mode&0o7777, h.Size, hex.EncodeToString(s.Sum(nil)))
		default:
			desc = fmt.Sprintf("type %c", h.Typeflag)
		}
		fn(h, rel, desc)
	}
}

func dirListing(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	must(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			out[rel] = fmt.Sprintf("dir %o", info.Mode().Perm())
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			out[rel] = fmt.Sprintf("file %o %d %s", info.Mode().Perm(), info.Size(), hex.EncodeToString(s[:]))
		default:
			out[rel] = "type other"
		}
		return nil
	}))
	return out
}
